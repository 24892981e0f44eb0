// Copies the API docs viewer (Swagger UI, from the swagger-ui-dist package) into the Python
// package, so {base_url}opensink/docs loads nothing from the internet.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const source = dirname(require.resolve('swagger-ui-dist/package.json'));
const target = new URL('../../jupyter_opensink/static/viewer/', import.meta.url).pathname;
mkdirSync(target, { recursive: true });
for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'package.json']) {
  copyFileSync(join(source, file), join(target, file));
}
console.log(`API docs viewer copied to ${target}`);
