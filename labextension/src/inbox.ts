/**
 * The Agent inbox: every workspace's pending input requests, each answered
 * through a form drawn from its schema and filled with the agent's proposal
 * (its `defaults`), beside the context the agent sent. A request offering
 * `decisions` gets a button per decision (Approve, Reject, Reply) and a
 * comment box; one without is answered with a single Submit, as the hosted
 * API's are. Kept current by the event feed: an answered request (here or
 * anywhere else) stays as a note saying what was decided and by whom.
 * "Copy approval link" makes a single-use link to a page that answers the
 * request without Jupyter access, copies it and shows it.
 */

import { Notification } from '@jupyterlab/apputils';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { ApiError, Doc, EventFeed, NotInstalled, OpenSinkApi, StreamEvent } from './api';
import { h, when } from './dom';
import { Card, drawOutcome, drawQuestion } from './question';

export { fieldPath, outcome } from './question';

const REQUEST_EVENTS = ['input_request.created', 'input_request.resolved', 'input_request.expired'];

/** Answered requests kept as notes at most (the oldest answered go first). */
const MAX_NOTES = 20;

/** What a card says of the agent that asks: its name, and whether its notebook is gone. */
interface AgentShown {
  name: string;
  offline: boolean;
}

/** Why an answer to `agent` will not reach it now, or null when it will. */
export function offlineNote(agent: AgentShown): string | null {
  return agent.offline
    ? `the notebook agent '${agent.name}' is offline: its answer will wait until its cell runs again`
    : null;
}

export class InboxPanel extends Widget {
  /** Pending requests by id. */
  private requests = new Map<string, Doc>();
  /** Requests answered or expired while shown, by id, in the order they were answered. */
  private answered = new Map<string, Doc>();
  private cards = new Map<string, Card>();
  /** The agents of the shown requests, by workspace and id. */
  private agents = new Map<string, AgentShown>();
  private workspaces = new Map<string, string>();
  private list = h('div', { className: 'jp-OpenSink-requests' });
  private banner = h('div', { className: 'jp-OpenSink-banner' });

  constructor(
    private api: OpenSinkApi,
    feed: EventFeed,
    private onNewRequest: (request: Doc) => void = () => undefined,
    /** The app's renderers for the context; without them the context shows as text. */
    private rendermime: IRenderMimeRegistry | null = null
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
      this.agents.clear(); // read again: an agent may have gone offline while the feed was away
      await Promise.all(pending.map(r => this.agentOf(r)));
      this.requests = new Map(pending.map(r => [r.id, r]));
      this.cards.forEach(card => card.dispose());
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

  private async agentOf(request: Doc): Promise<AgentShown> {
    const key = agentKey(request);
    if (!this.agents.has(key)) {
      try {
        const agent = await this.api.request(`agents/${request.agent_id}`, { workspace: request.workspace_id });
        this.agents.set(key, { name: agent.name, offline: !!agent.offline });
      } catch {
        this.agents.set(key, { name: request.agent_id, offline: false });
      }
    }
    return this.agents.get(key)!;
  }

  private async onEvent(event: StreamEvent): Promise<void> {
    if (event.type === 'reset') {
      await this.refresh();
      return;
    }
    if (event.type === 'agent.updated') {
      this.agentUpdated(event.data as Doc);
      return;
    }
    if (!REQUEST_EVENTS.includes(event.type)) {
      return;
    }
    const request = event.data as Doc;
    if (event.type === 'input_request.created' && request.status === 'pending') {
      if (!this.requests.has(request.id)) {
        await this.agentOf(request);
        this.requests.set(request.id, request);
        this.render();
        this.onNewRequest(request);
      }
    } else if (this.requests.has(request.id) || this.answered.has(request.id)) {
      this.settle(request);
    }
  }

  /** `request` was answered or expired: its card becomes a note saying so. */
  private settle(request: Doc): void {
    this.requests.delete(request.id);
    this.answered.delete(request.id); // the newest word moves to the end
    this.answered.set(request.id, request);
    for (const id of [...this.answered.keys()].slice(0, Math.max(0, this.answered.size - MAX_NOTES))) {
      this.answered.delete(id);
    }
    this.drop(request.id);
    this.render();
  }

  private drop(id: string): void {
    this.cards.get(id)?.dispose();
    this.cards.delete(id);
  }

  private render(): void {
    const n = this.requests.size;
    // The side bar keeps its own keys (the tab's data-id) in the dataset: change only ours.
    const { count: _old, ...others } = this.title.dataset;
    this.title.dataset = n ? { ...others, count: String(n) } : others;
    this.title.caption = `Agent inbox (${n} pending)`;
    for (const [id, card] of [...this.cards]) {
      if (!(card.pending ? this.requests.has(id) : this.answered.has(id))) {
        this.drop(id);
      }
    }
    const shown = [...this.requests.values(), ...[...this.answered.values()].filter(r => !this.requests.has(r.id))];
    const newest = shown.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    const cards = newest.map(request => {
      if (!this.cards.has(request.id)) {
        this.cards.set(request.id, this.requests.has(request.id) ? this.card(request) : this.note(request));
      }
      return this.cards.get(request.id)!.node;
    });
    const empty = h('p', { className: 'jp-OpenSink-empty' }, 'No pending requests. New ones appear here as agents ask.');
    this.list.replaceChildren(
      h('div', { className: 'jp-OpenSink-count' }, n === 1 ? '1 pending request' : `${n} pending requests`),
      ...(n ? cards : [empty, ...cards])
    );
  }

  /** An answered request: what was decided, by whom and when, and the comment. */
  private note(request: Doc): Card {
    const dismiss = h(
      'button',
      {
        type: 'button',
        className: 'jp-mod-styled jp-OpenSink-dismiss',
        onclick: () => {
          this.answered.delete(request.id);
          this.render();
        }
      },
      'Dismiss'
    );
    return { node: drawOutcome(request, dismiss), pending: false, dispose: () => undefined };
  }

  private card(request: Doc): Card {
    const agent = this.agents.get(agentKey(request)) ?? { name: request.agent_id, offline: false };
    const marker = h('div', { className: 'jp-OpenSink-offline', role: 'status' });
    showOffline(marker, agent);
    return drawQuestion(request, {
      api: this.api,
      rendermime: this.rendermime,
      meta: [
        h(
          'div',
          { className: 'jp-OpenSink-meta' },
          `agent ${agent.name} · ${this.workspaces.get(request.workspace_id) ?? request.workspace_id} · asked ${when(request.created_at)}`
        ),
        marker
      ],
      onAnswered: resolved => {
        this.settle(resolved);
        Notification.success(`Answered "${request.title}"`, { autoClose: 3000 });
      },
      onGone: () => void this.refresh()
    });
  }

  /** An agent changed (its kernel stopped, or it serves again): the cards of its requests say so. */
  private agentUpdated(agent: Doc): void {
    const key = `${agent.workspace_id}/${agent.id}`;
    if (!this.agents.has(key)) {
      return;
    }
    const shown = { name: agent.name, offline: !!agent.offline };
    this.agents.set(key, shown);
    for (const request of this.requests.values()) {
      const card = agentKey(request) === key ? this.cards.get(request.id) : undefined;
      const marker = card?.node.querySelector<HTMLElement>('.jp-OpenSink-offline');
      if (marker) {
        showOffline(marker, shown);
      }
    }
  }
}

function agentKey(request: Doc): string {
  return `${request.workspace_id}/${request.agent_id}`;
}

function showOffline(marker: HTMLElement, agent: AgentShown): void {
  const note = offlineNote(agent);
  marker.textContent = note ?? '';
  marker.hidden = !note;
}
