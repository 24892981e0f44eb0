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
import { drawContext } from './context';
import { h, when } from './dom';
import { describe, FormError, proposed } from './forms';
import { draw } from './formview';

const REQUEST_EVENTS = ['input_request.created', 'input_request.resolved', 'input_request.expired'];

export type Decision = 'approve' | 'reject' | 'respond';
/** The decisions in the order their buttons show, with their labels. */
const DECISIONS: [Decision, string, string][] = [
  ['approve', 'Approve', 'jp-mod-accept'],
  ['reject', 'Reject', 'jp-mod-warn'],
  ['respond', 'Reply', '']
];
/** Answered requests kept as notes at most (the oldest answered go first). */
const MAX_NOTES = 20;
/** A resolve's comment is at most this long (the server refuses more). */
const MAX_COMMENT = 4000;

/** A drawn request: its node, and what to release when it goes. */
interface Card {
  node: HTMLElement;
  pending: boolean;
  dispose(): void;
}

/** A JSON Pointer (a violation's `path`) as the form's field paths are written: names joined by '/'. */
export function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map(part => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('/');
}

/** What became of an answered (or expired) request, as a person says it. */
export function outcome(request: Doc): string {
  if (request.status === 'expired') {
    return 'Expired without an answer';
  }
  const who = request.resolved_by_name || request.resolved_by || 'someone';
  switch (request.decision) {
    case 'approve': {
      const changed = Array.isArray(request.changes) ? request.changes.length : null;
      const how = changed === 0 ? ' as proposed' : changed ? ` with ${changed} change${changed === 1 ? '' : 's'}` : '';
      return `Approved by ${who}${how}`;
    }
    case 'reject':
      return `Rejected by ${who}`;
    case 'respond':
      return `Reply from ${who}`;
    default:
      return `Answered by ${who}`;
  }
}

export class InboxPanel extends Widget {
  /** Pending requests by id. */
  private requests = new Map<string, Doc>();
  /** Requests answered or expired while shown, by id, in the order they were answered. */
  private answered = new Map<string, Doc>();
  private cards = new Map<string, Card>();
  private names = new Map<string, string>();
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
      await Promise.all(pending.map(r => this.agentName(r)));
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
    const node = h(
      'div',
      {
        className: 'jp-OpenSink-request jp-OpenSink-answered',
        'data-request-id': request.id,
        'data-decision': request.status === 'expired' ? 'expired' : request.decision ?? 'answer'
      },
      h('h3', {}, request.title),
      h(
        'div',
        { className: 'jp-OpenSink-outcome' },
        outcome(request),
        request.resolved_at ? h('span', { className: 'jp-OpenSink-time' }, ` · ${when(request.resolved_at)}`) : null
      ),
      request.comment ? h('blockquote', { className: 'jp-OpenSink-comment-shown' }, request.comment) : null,
      h(
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
      )
    );
    return { node, pending: false, dispose: () => undefined };
  }

  private card(request: Doc): Card {
    const spec = describe(proposed(request.schema ?? {}, request.defaults), '', true);
    const form = draw(spec, true);
    const context = drawContext(request.context, this.rendermime);
    const error = h('div', { className: 'jp-OpenSink-error', role: 'alert' });
    const offered = Array.isArray(request.decisions) ? DECISIONS.filter(([d]) => request.decisions.includes(d)) : [];
    const comment = offered.some(([d]) => d !== 'approve') ? commentBox(offered.some(([d]) => d === 'respond')) : null;
    const buttons: HTMLButtonElement[] = [];
    const send = async (decision: Decision | null) => {
      error.textContent = '';
      form.show([]);
      comment?.show('');
      const said = comment && comment.area.value.trim() ? comment.area.value : undefined;
      const body: Doc = {};
      if (decision === 'respond') {
        if (!said) {
          comment?.show('Write your reply: the agent reads it instead of a decision.');
          comment?.area.focus();
          return;
        }
      } else if (decision !== 'reject') {
        // Reject needs no valid form: the person says no to the proposal, whatever the fields hold.
        try {
          body.response = form.read();
        } catch (problem) {
          error.textContent = problem instanceof FormError ? problem.message : String(problem);
          return;
        }
      }
      if (decision) {
        body.decision = decision;
      }
      if (said) {
        body.comment = said;
      }
      buttons.forEach(b => (b.disabled = true));
      try {
        const resolved = await this.api.request(`agent-session-input-requests/${request.id}/resolve`, {
          method: 'POST',
          body,
          workspace: request.workspace_id
        });
        this.settle(resolved);
        Notification.success(`Answered "${request.title}"`, { autoClose: 3000 });
      } catch (problem) {
        error.textContent = problem instanceof ApiError ? problem.message : String(problem);
        if (problem instanceof ApiError) {
          form.show(problem.violations.map(v => [fieldPath(v.path), `${v.field}: ${v.message}`]));
          if (problem.status === 409) {
            void this.refresh(); // answered or expired elsewhere
          }
        }
      } finally {
        buttons.forEach(b => (b.disabled = false));
      }
    };
    if (offered.length) {
      for (const [decision, label, style] of offered) {
        buttons.push(
          h(
            'button',
            { type: 'button', className: `jp-mod-styled ${style}`, 'data-decision': decision, onclick: () => void send(decision) },
            label
          )
        );
      }
    } else {
      buttons.push(h('button', { type: 'button', className: 'jp-mod-styled jp-mod-accept', onclick: () => void send(null) }, 'Submit'));
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
    const node = h(
      'form',
      {
        className: 'jp-OpenSink-request',
        'data-request-id': request.id,
        onsubmit: (e: Event) => {
          // Enter in one of the answer's fields submits a plain answer. A decision is only ever given by
          // its button, and Enter elsewhere in the card (a search box of the context's JSON viewer) is no answer.
          e.preventDefault();
          if (!offered.length && form.node.contains(document.activeElement)) {
            void send(null);
          }
        }
      },
      h('h3', {}, request.title),
      request.message ? h('p', { className: 'jp-OpenSink-message' }, request.message) : null,
      h(
        'div',
        { className: 'jp-OpenSink-meta' },
        `agent ${agent} · ${this.workspaces.get(request.workspace_id) ?? request.workspace_id} · asked ${when(request.created_at)}`
      ),
      context?.node,
      error,
      form.node,
      comment?.node,
      h('div', { className: 'jp-OpenSink-buttons' }, buttons),
      linkBox
    );
    return { node, pending: true, dispose: () => context?.dispose() };
  }
}

/** The comment a decision carries: why it is rejected, or (required) the reply itself. */
function commentBox(replies: boolean): { node: HTMLElement; area: HTMLTextAreaElement; show(problem: string): void } {
  const area = h('textarea', {
    className: 'jp-OpenSink-comment-input',
    rows: 3,
    maxLength: MAX_COMMENT,
    placeholder: replies ? 'Why you reject it, or your reply to the agent' : 'Why you reject it'
  });
  const problem = h('div', { className: 'jp-OpenSink-problem', role: 'alert', hidden: true });
  const node = h(
    'label',
    { className: 'jp-OpenSink-field jp-OpenSink-comment' },
    h('span', { className: 'jp-OpenSink-label' }, replies ? 'Comment (a reply needs one)' : 'Comment'),
    area,
    problem
  );
  return {
    node,
    area,
    show: text => {
      problem.textContent = text;
      problem.hidden = !text;
    }
  };
}
