/**
 * The browser's desktop notification for a new request, opt-in (the `desktopNotifications` setting):
 * shown only while JupyterLab's tab is hidden or not focused, since the inbox's own toast already
 * tells a person who is looking. Clicking it brings JupyterLab forward with the inbox open.
 */

import { Doc } from './api';

/** The browser's Notification API, when this browser has one (window.Notification is absent otherwise). */
function desktopApi(): typeof window.Notification | null {
  return typeof window !== 'undefined' && 'Notification' in window ? window.Notification : null;
}

export class DesktopNotifier {
  /** Set from the setting; off until the person turns it on. */
  enabled = false;

  constructor(private openInbox: () => void) {}

  /** Asks the browser's permission (call from a person's action: browsers ignore other asks). */
  async requestPermission(): Promise<NotificationPermission | 'unsupported'> {
    const api = desktopApi();
    if (!api) {
      return 'unsupported';
    }
    return api.permission === 'default' ? api.requestPermission() : api.permission;
  }

  /** Whether a request arriving now would be shown: on, allowed, and JupyterLab not in front. */
  wouldShow(): boolean {
    const api = desktopApi();
    return this.enabled && !!api && api.permission === 'granted' && (document.hidden || !document.hasFocus());
  }

  show(request: Doc, agentName?: string): void {
    const api = desktopApi();
    if (!api || !this.wouldShow()) {
      return;
    }
    try {
      const shown = new api(`${agentName ?? 'An agent'} asks: ${request.title}`, {
        body: String(request.message ?? '').slice(0, 200),
        tag: `opensink-${request.id}`
      });
      shown.onclick = () => {
        window.focus();
        this.openInbox();
        shown.close();
      };
    } catch (error) {
      // a browser that refuses (some allow them only from a service worker): the toast has told already
      console.warn('OpenSink: the desktop notification could not be shown', error);
    }
  }
}
