/**
 * The question of a waiting cell, drawn in that cell's output. `Client.ask` shows the input request as
 * an `application/vnd.opensink.input-request+json` output while it waits; the kernel is busy running
 * that very cell, so nothing can be answered through the kernel (an ipywidgets form would get no
 * messages): the form is drawn here and answers over HTTP as the Jupyter user, as the inbox does.
 * Answered here, in the inbox, by an approval link or by any API client, it turns into what was
 * decided and by whom (the event feed says so; the kernel also updates the output once it has its answer).
 *
 * The renderer is not safe for untrusted output: what it draws acts as the person (a click answers a
 * request in their workspace), so a notebook someone else wrote shows the output's plain text until the
 * person trusts it. Cells the person runs are trusted.
 */

import type { IRenderMime, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { ApiError, Doc, EventFeed, OpenSinkApi, StreamEvent } from './api';
import { h, when } from './dom';
import { Card, drawOutcome, drawQuestion } from './question';

export const INPUT_REQUEST_MIME = 'application/vnd.opensink.input-request+json';
/** Ahead of the plain text beside it (a lower rank is preferred). */
export const INPUT_REQUEST_RANK = 20;

const SETTLING_EVENTS = ['input_request.resolved', 'input_request.expired'];

/** What `Client.ask` puts under the MIME type: the request and its approval link (null when answered). */
interface ShownRequest {
  request: Doc;
  link: string | null;
}

export class QuestionOutput extends Widget implements IRenderMime.IRenderer {
  private request: Doc | null = null;
  private card: Card | null = null;
  private unsubscribe: () => void;

  constructor(
    private api: OpenSinkApi,
    feed: EventFeed,
    private rendermime: IRenderMimeRegistry | null
  ) {
    super();
    this.addClass('jp-OpenSink-cell-question');
    this.unsubscribe = feed.subscribe(event => this.onEvent(event));
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const shown = model.data[INPUT_REQUEST_MIME] as unknown as ShownRequest | undefined;
    const request = shown?.request;
    if (!request || typeof request.id !== 'string') {
      this.node.replaceChildren(h('div', { className: 'jp-OpenSink-error' }, 'This output holds no input request.'));
      return;
    }
    this.draw(request);
    if (request.status === 'pending') {
      await this.reread(); // it may have been answered before this output was drawn (a reopened notebook)
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.unsubscribe();
    this.card?.dispose();
    super.dispose();
  }

  /** Draws `request` as it stands: a form while pending, what was decided once answered. */
  private draw(request: Doc): void {
    const current = this.request;
    if (current && current.id === request.id) {
      if (current.status !== 'pending' && request.status === 'pending') {
        return; // an older word: it is answered already
      }
      if (current.status === 'pending' && request.status === 'pending' && this.card) {
        return; // the form stays as the person is filling it
      }
    }
    this.request = request;
    this.card?.dispose();
    this.card = null;
    if (request.status === 'pending') {
      this.card = drawQuestion(request, {
        api: this.api,
        rendermime: this.rendermime,
        meta: [h('div', { className: 'jp-OpenSink-meta' }, `asked ${when(request.created_at)} · waiting in this cell`)],
        onAnswered: resolved => this.draw(resolved),
        onGone: () => void this.reread()
      });
      this.node.replaceChildren(this.card.node);
    } else {
      this.node.replaceChildren(drawOutcome(request));
    }
  }

  /** Reads the request again from the server, and shows it if it was answered or expired. */
  private async reread(): Promise<void> {
    const request = this.request;
    if (!request || this.isDisposed) {
      return;
    }
    try {
      const stored = await this.api.request(`agent-session-input-requests/${request.id}`, {
        workspace: request.workspace_id
      });
      if (!this.isDisposed && stored.status !== 'pending') {
        this.draw(stored);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !this.isDisposed) {
        this.node.replaceChildren(
          h('div', { className: 'jp-OpenSink-request jp-OpenSink-answered', 'data-decision': 'gone' }, h('h3', {}, request.title),
            h('div', { className: 'jp-OpenSink-outcome' }, 'This request no longer exists.'))
        );
      }
      // otherwise (the server away) the form stays; answering it says what is wrong
    }
  }

  private onEvent(event: StreamEvent): void {
    if (event.type === 'reset') {
      void this.reread();
    } else if (SETTLING_EVENTS.includes(event.type) && event.data?.id === this.request?.id) {
      this.draw(event.data as Doc);
    }
  }
}

/** The renderer factory the plugin adds to the app's rendermime registry. */
export function questionRendererFactory(
  api: OpenSinkApi,
  feed: EventFeed,
  rendermime: IRenderMimeRegistry
): IRenderMime.IRendererFactory {
  return {
    safe: false,
    mimeTypes: [INPUT_REQUEST_MIME],
    defaultRank: INPUT_REQUEST_RANK,
    createRenderer: () => new QuestionOutput(api, feed, rendermime)
  };
}
