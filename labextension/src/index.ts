/**
 * The jupyter_opensink JupyterLab plugin: the Agent inbox in the left side
 * bar, the workspace browser in the main area, and palette commands for both.
 *
 * It needs only the application's shell (any JupyterFrontEnd's), not JupyterLab's own
 * (ILabShell): so it also loads in Notebook 7, where the inbox is a left side panel
 * (View > Left Sidebar, or the "Open the Agent inbox" command). The rendermime registry (both apps
 * have one) draws a request's context as notebook outputs are drawn; it is optional, and without it
 * the context shows as text. It also draws the question of a cell waiting in `Client.ask` in that cell's
 * output (cellquestion.ts): the renderer is added to that registry, which every notebook's copies.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { EventFeed, NotInstalled, OpenSinkApi } from './api';
import { BrowserPanel } from './browser';
import { INPUT_REQUEST_RANK, questionRendererFactory } from './cellquestion';
import { DesktopNotifier } from './desktop';
import { InboxPanel } from './inbox';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
  'd="M19 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2zm0 12h-4a3 3 0 0 1-6 0H5V5h14v10z"/></svg>';
export const inboxIcon = new LabIcon({ name: 'jupyter-opensink:inbox', svgstr: ICON_SVG });

export const COMMANDS = {
  inbox: 'opensink:open-inbox',
  browser: 'opensink:open-browser',
  desktop: 'opensink:enable-desktop-notifications'
};
const PLUGIN_ID = 'jupyter-opensink:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Agent inbox and workspace browser for jupyter_opensink.',
  autoStart: true,
  requires: [],
  optional: [ICommandPalette, IRenderMimeRegistry, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    rendermime: IRenderMimeRegistry | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const shell = app.shell;
    const api = new OpenSinkApi();
    const feed = new EventFeed(api);
    const desktop = new DesktopNotifier(() => shell.activateById(inbox.id));
    const inbox = new InboxPanel(
      api,
      feed,
      request => {
        Notification.info(`An agent asks: ${request.title}`, {
          autoClose: 8000,
          actions: [{ label: 'Open inbox', callback: () => shell.activateById(inbox.id) }]
        });
        desktop.show(request);
      },
      rendermime
    );
    inbox.title.icon = inboxIcon;
    rendermime?.addFactory(questionRendererFactory(api, feed, rendermime), INPUT_REQUEST_RANK);
    shell.add(inbox, 'left', { rank: 600 });

    let browser: MainAreaWidget<BrowserPanel> | null = null;
    app.commands.addCommand(COMMANDS.inbox, {
      label: 'Open the Agent inbox',
      caption: 'Pending input requests of every workspace',
      execute: () => shell.activateById(inbox.id)
    });
    app.commands.addCommand(COMMANDS.browser, {
      label: 'Open the agent workspace browser',
      caption: 'Agents, sessions, sinks, background jobs, notebook runs and deliveries',
      execute: () => {
        if (!browser || browser.isDisposed) {
          const openPath = (path: string) => void app.commands.execute('docmanager:open', { path });
          browser = new MainAreaWidget({ content: new BrowserPanel(api, feed, openPath) });
          browser.id = 'jp-opensink-browser-main';
          browser.title.label = 'Agent workspace';
          browser.title.icon = inboxIcon;
        }
        if (!browser.isAttached) {
          shell.add(browser, 'main');
        }
        shell.activateById(browser.id);
        return browser;
      }
    });
    palette?.addItem({ command: COMMANDS.inbox, category: 'OpenSink' });
    palette?.addItem({ command: COMMANDS.browser, category: 'OpenSink' });

    // Desktop notifications: opt-in, a setting in Lab's settings editor (OpenSink), and a command that turns
    // it on from a person's click, which is when browsers let a page ask for the permission.
    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      settingRegistry.load(PLUGIN_ID).then(
        loaded => {
          settings = loaded;
          const apply = () => {
            desktop.enabled = loaded.get('desktopNotifications').composite === true;
          };
          apply();
          loaded.changed.connect(apply);
        },
        error => console.warn('OpenSink: its settings could not be loaded', error)
      );
    }
    app.commands.addCommand(COMMANDS.desktop, {
      label: 'Enable desktop notifications for agent requests',
      caption: 'Show the browser\'s desktop notification when an agent asks while JupyterLab is in the background',
      execute: async () => {
        const permission = await desktop.requestPermission();
        if (permission !== 'granted') {
          Notification.warning(
            permission === 'unsupported'
              ? 'This browser has no desktop notifications.'
              : 'The browser did not allow desktop notifications for this page (see its site settings).',
            { autoClose: 8000 }
          );
          return;
        }
        desktop.enabled = true;
        await settings?.set('desktopNotifications', true);
        Notification.success('Desktop notifications are on for agent requests.', { autoClose: 4000 });
      }
    });
    palette?.addItem({ command: COMMANDS.desktop, category: 'OpenSink' });

    // The feed only starts when the routes exist; otherwise the panels say why they are empty.
    api.probe().then(
      () => feed.start(),
      error => {
        if (!(error instanceof NotInstalled)) {
          feed.start();
        }
      }
    );
  }
};

export default plugin;
