/**
 * Talks to the server extension as the Jupyter user (the page's own token and
 * XSRF cookie, through ServerConnection), and follows its event stream.
 */

import { ServerConnection } from '@jupyterlab/services';

export type Doc = { [key: string]: any };

/** Where an answer breaks its schema: `path` is a JSON Pointer, `field` the name a person reads. */
export interface Violation {
  path: string;
  field: string;
  message: string;
}

/** An answer other than 2xx; `message` is the server's `{"error"}` text, `violations` its field-by-field detail. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly violations: Violation[] = []
  ) {
    super(message);
  }
}

/** The server has no OpenSink routes: the server extension is not enabled. */
export class NotInstalled extends ApiError {}

export const NOT_INSTALLED_MESSAGE =
  'The jupyter_opensink server extension is not enabled on this Jupyter server. ' +
  'Enable it with "jupyter server extension enable jupyter_opensink" and restart the server.';

export interface Page {
  items: Doc[];
  trail: string | null;
}

export class OpenSinkApi {
  readonly settings = ServerConnection.makeSettings();
  readonly root = `${this.settings.baseUrl}opensink/api/v1/`;

  /** One call; `workspace` picks the workspace (the user's default otherwise). */
  async request(path: string, options: { method?: string; body?: unknown; workspace?: string } = {}): Promise<any> {
    const headers: { [key: string]: string } = {};
    if (options.workspace) {
      headers['X-OpenSink-Workspace'] = options.workspace;
    }
    const init: RequestInit = { method: options.method ?? 'GET', headers };
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.root + path, init, this.settings);
    } catch (error) {
      throw new ApiError(0, `the Jupyter server cannot be reached (${(error as Error).message})`);
    }
    const text = await response.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message = data && typeof data.error === 'string' ? data.error : `HTTP ${response.status}`;
      // Jupyter's own 404 page (not our JSON error) means the routes are missing.
      if (response.status === 404 && !(data && typeof data.error === 'string')) {
        throw new NotInstalled(404, NOT_INSTALLED_MESSAGE);
      }
      const violations = data && Array.isArray(data.violations) ? data.violations : [];
      throw new ApiError(response.status, message, violations);
    }
    return data;
  }

  /** Every page of a listing, up to `max` documents. */
  async list(path: string, params: { [key: string]: string } = {}, workspace?: string, max = 500): Promise<Doc[]> {
    const out: Doc[] = [];
    let trail: string | null = null;
    do {
      const query = new URLSearchParams({ ...params, $limit: String(Math.min(100, max - out.length)) });
      if (trail) {
        query.set('$trail', trail);
      }
      const page: Page = await this.request(`${path}?${query}`, { workspace });
      out.push(...page.items);
      trail = page.trail;
    } while (trail && out.length < max);
    return out;
  }

  /** Fails with NotInstalled when the server extension is off. */
  async probe(): Promise<void> {
    await this.request('workspaces?$limit=1');
  }
}

export interface StreamEvent {
  id: string | null;
  type: string;
  data: any;
}

/**
 * The Jupyter user's events of every workspace, as a long-lived fetch read
 * chunk by chunk (EventSource cannot send the auth headers). It reconnects
 * with Last-Event-ID; a `reset` tells listeners to list again.
 */
export class EventFeed {
  private listeners = new Set<(event: StreamEvent) => void>();
  private lastId: string | null = null;
  private stopped = false;
  private controller: AbortController | null = null;
  /** Resolves once the stream is connected (for the first time). */
  readonly connected: Promise<void>;
  private markConnected!: () => void;

  constructor(private api: OpenSinkApi) {
    this.connected = new Promise(resolve => (this.markConnected = resolve));
  }

  subscribe(listener: (event: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  private emit(event: StreamEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error('opensink: event listener failed', error);
      }
    }
  }

  private async loop(): Promise<void> {
    let delay = 1000;
    while (!this.stopped) {
      try {
        await this.follow();
        delay = 1000;
      } catch (error) {
        if (this.stopped) {
          return;
        }
        if (error instanceof NotInstalled) {
          return;
        }
        console.warn('opensink: event stream interrupted, reconnecting', error);
      }
      await new Promise(resolve => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  private async follow(): Promise<void> {
    this.controller = new AbortController();
    const headers: { [key: string]: string } = { Accept: 'text/event-stream' };
    if (this.lastId) {
      headers['Last-Event-ID'] = this.lastId;
    }
    const response = await ServerConnection.makeRequest(
      `${this.api.root}events?workspaces=all`,
      { headers, signal: this.controller.signal },
      this.api.settings
    );
    if (response.status === 404) {
      throw new NotInstalled(404, NOT_INSTALLED_MESSAGE);
    }
    if (!response.ok || !response.body) {
      throw new ApiError(response.status, `event stream answered ${response.status}`);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.handle(block);
      }
    }
  }

  private handle(block: string): void {
    let id: string | null = null;
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        if (line.includes('connected')) {
          this.markConnected();
        }
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') {
        id = value;
      } else if (field === 'event') {
        type = value;
      } else if (field === 'data') {
        data.push(value);
      }
    }
    if (!data.length) {
      return;
    }
    if (id) {
      this.lastId = id;
    }
    let parsed: any = null;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      parsed = data.join('\n');
    }
    this.emit({ id, type, data: parsed });
  }
}
