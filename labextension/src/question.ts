/**
 * One input request drawn as a person answers it: the form filled with the agent's proposal (its
 * `defaults`), the context beside it, a button per decision (or a single Submit) and a comment box,
 * answered over HTTP as the Jupyter user. The inbox draws its cards with it and the notebook output
 * renderer draws the question of a waiting cell with it, so both answer alike.
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { ApiError, Doc, OpenSinkApi } from './api';
import { drawContext } from './context';
import { h, when } from './dom';
import { describe, FormError, proposed } from './forms';
import { draw } from './formview';

export type Decision = 'approve' | 'reject' | 'respond';
/** The decisions in the order their buttons show, with their labels. */
const DECISIONS: [Decision, string, string][] = [
  ['approve', 'Approve', 'jp-mod-accept'],
  ['reject', 'Reject', 'jp-mod-warn'],
  ['respond', 'Reply', '']
];
/** "Approve and remember": how long the same approval is given again without asking. */
export const REMEMBER_CHOICES: [number, string][] = [
  [3600, 'for an hour'],
  [86400, 'for a day'],
  [7 * 86400, 'for a week']
];
/** A resolve's comment is at most this long (the server refuses more). */
const MAX_COMMENT = 4000;

/** A drawn request: its node, and what to release when it goes. */
export interface Card {
  node: HTMLElement;
  pending: boolean;
  dispose(): void;
}

export interface QuestionOptions {
  api: OpenSinkApi;
  /** The app's renderers for the context; without them the context shows as text. */
  rendermime: IRenderMimeRegistry | null;
  /** Shown under the title (who asks, where, when). */
  meta: (HTMLElement | string | null)[];
  /** The server took the answer: `resolved` is the request as it now stands. */
  onAnswered(resolved: Doc): void;
  /** The server says the request is no longer open (answered or expired elsewhere). */
  onGone(): void;
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

/** An answered request: what was decided, by whom and when, and the comment; `extra` goes below. */
export function drawOutcome(request: Doc, ...extra: (HTMLElement | null)[]): HTMLElement {
  return h(
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
    ...extra
  );
}

/** A pending request as a form to answer it. */
export function drawQuestion(request: Doc, options: QuestionOptions): Card {
  const { api } = options;
  const spec = describe(proposed(request.schema ?? {}, request.defaults), '', true);
  const form = draw(spec, true);
  const context = drawContext(request.context, options.rendermime);
  const error = h('div', { className: 'jp-OpenSink-error', role: 'alert' });
  const offered = Array.isArray(request.decisions) ? DECISIONS.filter(([d]) => request.decisions.includes(d)) : [];
  const comment = offered.some(([d]) => d !== 'approve') ? commentBox(offered.some(([d]) => d === 'respond')) : null;
  const buttons: HTMLButtonElement[] = [];
  const remember = offered.some(([d]) => d === 'approve') ? rememberChoice() : null;
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
    if (decision === 'approve' && remember?.box.checked) {
      body.remember = { seconds: Number(remember.duration.value) };
    }
    buttons.forEach(b => (b.disabled = true));
    try {
      const resolved = await api.request(`agent-session-input-requests/${request.id}/resolve`, {
        method: 'POST',
        body,
        workspace: request.workspace_id
      });
      options.onAnswered(resolved);
    } catch (problem) {
      error.textContent = problem instanceof ApiError ? problem.message : String(problem);
      if (problem instanceof ApiError) {
        form.show(problem.violations.map(v => [fieldPath(v.path), `${v.field}: ${v.message}`]));
        if (problem.status === 409) {
          options.onGone();
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
  const approveAt = buttons.findIndex(b => b.dataset.decision === 'approve');
  const linkBox = h('div', { className: 'jp-OpenSink-link', hidden: true });
  const copyLink = async () => {
    error.textContent = '';
    try {
      const link = await api.request(`agent-session-input-requests/${request.id}/links`, {
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
    ...options.meta,
    context?.node,
    error,
    form.node,
    comment?.node,
    h(
      'div',
      { className: 'jp-OpenSink-buttons' },
      remember ? [...buttons.slice(0, approveAt + 1), remember.node, ...buttons.slice(approveAt + 1)] : buttons
    ),
    linkBox
  );
  return { node, pending: true, dispose: () => context?.dispose() };
}

/**
 * "Approve and remember": checked, Approve also creates an approval policy that approves the same proposal
 * of this agent and key, without asking, for the chosen time (the Jupyter user's: this panel acts as it).
 */
function rememberChoice(): { node: HTMLElement; box: HTMLInputElement; duration: HTMLSelectElement } {
  const box = h('input', { type: 'checkbox', className: 'jp-OpenSink-remember-box' });
  const duration = h(
    'select',
    { className: 'jp-OpenSink-remember-for', 'aria-label': 'Remember for how long' },
    REMEMBER_CHOICES.map(([seconds, label]) => h('option', { value: String(seconds), selected: seconds === 86400 }, label))
  );
  const node = h(
    'span',
    { className: 'jp-OpenSink-remember', title: 'Approve the same proposal of this agent again without asking' },
    h('label', {}, box, ' Remember'),
    ' ',
    duration
  );
  return { node, box, duration };
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
