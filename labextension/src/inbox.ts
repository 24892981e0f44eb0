/**
 * The Agent inbox: every workspace's pending input requests, each answered
 * through a form drawn from its schema. Kept current by the event feed.
 * "Copy approval link" makes a single-use link to a page that answers the
 * request without Jupyter access, copies it and shows it.
 */

import { Notification } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { ApiError, Doc, EventFeed, NotInstalled, OpenSinkApi, StreamEvent } from './api';
import { h, when } from './dom';
import { describe, FormError, rejectField } from './forms';
import { draw } from './formview';

const REQUEST_EVENTS = ['input_request.created', 'input_request.resolved', 'input_request.expired'];

export class InboxPanel extends Widget {
  private requests = new Map<string, Doc>();
  private cards = new Map<string, HTMLElement>();
  private names = new Map<string, string>();
  private workspaces = new Map<string, string>();
  private list = h('div', { className: 'jp-OpenSink-requests' });
  private banner = h('div', { className: 'jp-OpenSink-banner' });

  constructor(
    private api: OpenSinkApi,
    feed: EventFeed,
    private onNewRequest: (request: Doc) => void = () => undefined
  ) {
    super();
    this.id = 'jp-opensink-inbox';
    this.addClass('jp-OpenSink-inbox');
    this.title.caption = 'Agent inbox';
    this.node.append(h('h2', {}, 'Agent inbox'), this.banner, this.list);
    feed.subscribe(event => void this.onEvent(event));
    void this.refresh();
  }

  get count(): number {
    return this.requests.size;
  }

  /** Lists pending requests again (at start, and when the feed says it missed events). */
  async refresh(): Promise<void> {
    try {
      const workspaces = await this.api.list('workspaces');
      this.workspaces = new Map(workspaces.map(w => [w.id, w.name]));
      const pending: Doc[] = [];
      for (const workspace of workspaces) {
        pending.push(
          ...(await this.api.list('agent-session-input-requests', { status: 'pending' }, workspace.id))
        );
      }
      await Promise.all(pending.map(r => this.agentName(r)));
      this.requests = new Map(pending.map(r => [r.id, r]));
      this.cards.clear();
      this.banner.textContent = '';
      this.render();
    } catch (error) {
      this.showProblem(error);
    }
  }

  private showProblem(error: unknown): void {
    const message = error instanceof ApiError ? error.message : String(error);
    this.banner.replaceChildren(
      h('div', { className: error instanceof NotInstalled ? 'jp-OpenSink-disabled' : 'jp-OpenSink-error' }, message)
    );
  }

  private async agentName(request: Doc): Promise<string> {
    const key = `${request.workspace_id}/${request.agent_id}`;
    if (!this.names.has(key)) {
      try {
        const agent = await this.api.request(`agents/${request.agent_id}`, { workspace: request.workspace_id });
        this.names.set(key, agent.name);
      } catch {
        this.names.set(key, request.agent_id);
      }
    }
    return this.names.get(key)!;
  }

  private async onEvent(event: StreamEvent): Promise<void> {
    if (event.type === 'reset') {
      await this.refresh();
      return;
    }
    if (!REQUEST_EVENTS.includes(event.type)) {
      return;
    }
    const request = event.data as Doc;
    if (event.type === 'input_request.created' && request.status === 'pending') {
      if (!this.requests.has(request.id)) {
        await this.agentName(request);
        this.requests.set(request.id, request);
        this.render();
        this.onNewRequest(request);
      }
    } else if (this.requests.delete(request.id)) {
      this.cards.delete(request.id);
      this.render();
    }
  }

  private render(): void {
    const n = this.requests.size;
    // The side bar keeps its own keys (the tab's data-id) in the dataset: change only ours.
    const { count: _old, ...others } = this.title.dataset;
    this.title.dataset = n ? { ...others, count: String(n) } : others;
    this.title.caption = `Agent inbox (${n} pending)`;
    const newest = [...this.requests.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    const cards = newest.map(request => {
      if (!this.cards.has(request.id)) {
        this.cards.set(request.id, this.card(request));
      }
      return this.cards.get(request.id)!;
    });
    this.list.replaceChildren(
      h('div', { className: 'jp-OpenSink-count' }, n === 1 ? '1 pending request' : `${n} pending requests`),
      ...(n ? cards : [h('p', { className: 'jp-OpenSink-empty' }, 'No pending requests. New ones appear here as agents ask.')])
    );
  }

  private card(request: Doc): HTMLElement {
    const spec = describe(request.schema ?? {}, '', true);
    const form = draw(spec, true);
    const error = h('div', { className: 'jp-OpenSink-error', role: 'alert' });
    const rejectable = rejectField(spec);
    const buttons: HTMLButtonElement[] = [];
    const send = async (reject: boolean) => {
      error.textContent = '';
      let response: unknown;
      try {
        response = form.read();
      } catch (problem) {
        error.textContent = problem instanceof FormError ? problem.message : String(problem);
        return;
      }
      if (reject && rejectable) {
        (response as Doc)[rejectable.name] = false;
      }
      buttons.forEach(b => (b.disabled = true));
      try {
        await this.api.request(`agent-session-input-requests/${request.id}/resolve`, {
          method: 'POST',
          body: { response },
          workspace: request.workspace_id
        });
        this.requests.delete(request.id);
        this.cards.delete(request.id);
        this.render();
        Notification.success(`Answered "${request.title}"`, { autoClose: 3000 });
      } catch (problem) {
        error.textContent = problem instanceof ApiError ? problem.message : String(problem);
        if (problem instanceof ApiError && problem.status === 409) {
          void this.refresh(); // answered or expired elsewhere
        }
      } finally {
        buttons.forEach(b => (b.disabled = false));
      }
    };
    buttons.push(h('button', { type: 'button', className: 'jp-mod-styled jp-mod-accept', onclick: () => void send(false) }, 'Submit'));
    if (rejectable) {
      buttons.push(h('button', { type: 'button', className: 'jp-mod-styled jp-mod-warn', onclick: () => void send(true) }, 'Reject'));
    }
    const linkBox = h('div', { className: 'jp-OpenSink-link', hidden: true });
    const copyLink = async () => {
      error.textContent = '';
      try {
        const link = await this.api.request(`agent-session-input-requests/${request.id}/links`, {
          method: 'POST',
          body: {},
          workspace: request.workspace_id
        });
        const field = h('input', {
          type: 'text',
          readOnly: true,
          value: link.url,
          className: 'jp-OpenSink-link-url',
          // Enter in a field submits the form around it: here it must not answer the request.
          onkeydown: (e: KeyboardEvent) => e.key === 'Enter' && e.preventDefault()
        });
        let copied = false;
        try {
          await navigator.clipboard.writeText(link.url);
          copied = true;
        } catch {
          copied = false; // no clipboard permission (or an insecure origin): the field is there to copy from
        }
        linkBox.replaceChildren(
          field,
          h(
            'div',
            { className: 'jp-OpenSink-help' },
            `${copied ? 'Copied. ' : 'Select and copy it. '}It answers this request once and works until ${when(link.expires_at)}.`
          )
        );
        linkBox.hidden = false;
        field.select();
      } catch (problem) {
        error.textContent = problem instanceof ApiError ? problem.message : String(problem);
      }
    };
    buttons.push(
      h('button', { type: 'button', className: 'jp-mod-styled jp-OpenSink-copy-link', onclick: () => void copyLink() }, 'Copy approval link')
    );
    const agent = this.names.get(`${request.workspace_id}/${request.agent_id}`) ?? request.agent_id;
    return h(
      'form',
      {
        className: 'jp-OpenSink-request',
        'data-request-id': request.id,
        onsubmit: (e: Event) => {
          e.preventDefault();
          void send(false);
        }
      },
      h('h3', {}, request.title),
      request.message ? h('p', { className: 'jp-OpenSink-message' }, request.message) : null,
      h(
        'div',
        { className: 'jp-OpenSink-meta' },
        `agent ${agent} · ${this.workspaces.get(request.workspace_id) ?? request.workspace_id} · asked ${when(request.created_at)}`
      ),
      form.node,
      h('div', { className: 'jp-OpenSink-buttons' }, buttons),
      linkBox,
      error
    );
  }
}
