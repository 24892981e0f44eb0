/**
 * The workspace browser: agents, sessions (state and activity timeline),
 * sinks (newest items, search), background jobs (runs, trigger, enable), notebook
 * runs (status, the output notebook, cancel), deliveries (execution-endpoint calls and notification attempts)
 * and approval policies (time left, delete) of one
 * workspace. Redrawn when that workspace's events
 * arrive, so what it shows is current without polling.
 */

import { Widget } from '@lumino/widgets';

import { ApiError, Doc, EventFeed, NotInstalled, OpenSinkApi } from './api';
import { h, when } from './dom';
import { jsonView } from './json';

type View = 'agents' | 'sessions' | 'sinks' | 'jobs' | 'runs' | 'deliveries' | 'requests' | 'policies';
/** Each view, its label and the discovery count shown beside it. */
const VIEWS: [View, string, string | null][] = [
  ['agents', 'Agents', 'agents'],
  ['sessions', 'Sessions', 'agent_sessions'],
  ['sinks', 'Sinks', 'sinks'],
  ['jobs', 'Background jobs', 'background_jobs'],
  ['runs', 'Notebook runs', null],
  ['deliveries', 'Deliveries', null],
  ['requests', 'Requests', null],
  ['policies', 'Policies', null]
];
const LIMIT = '50';

function table(headings: string[], rows: HTMLElement[]): HTMLElement {
  return h(
    'table',
    { className: 'jp-OpenSink-table' },
    h('thead', {}, h('tr', {}, headings.map(t => h('th', {}, t)))),
    h('tbody', {}, rows)
  );
}

/** How long a policy still decides: "never expires", "expired", "2 d 3 h left", "59 min left". */
export function timeLeft(expiresAt: string | null | undefined, now: number = Date.now()): string {
  if (!expiresAt) {
    return 'never expires';
  }
  const minutes = Math.floor((new Date(expiresAt).getTime() - now) / 60000);
  if (isNaN(minutes)) {
    return expiresAt;
  }
  if (minutes < 0) {
    return 'expired';
  }
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days) {
    return `${days} d ${hours} h left`;
  }
  return hours ? `${hours} h ${minutes % 60} min left` : `${Math.max(minutes, 1)} min left`;
}

function status(value: string | null | undefined): HTMLElement {
  return h('span', { className: `jp-OpenSink-status jp-OpenSink-status-${value ?? 'none'}` }, value ?? '—');
}

export class BrowserPanel extends Widget {
  private workspace = '';
  private view: View = 'agents';
  /** The selected session, sink or job whose detail is shown. */
  private selected: string | null = null;
  private search = '';
  private picker = h('select', { className: 'jp-OpenSink-workspace', onchange: () => this.pick() });
  private tabs = h('div', { className: 'jp-OpenSink-tabs' });
  private body = h('div', { className: 'jp-OpenSink-body' });
  private pending: number | null = null;
  private server = h('span', { className: 'jp-OpenSink-server' });

  /**
   * @param openPath opens a file of the server's root in the application (a run's output notebook);
   *   without it, output paths are shown as text.
   */
  constructor(
    private api: OpenSinkApi,
    feed: EventFeed,
    private openPath: ((path: string) => void) | null = null
  ) {
    super();
    this.id = 'jp-opensink-browser';
    this.addClass('jp-OpenSink-browser');
    this.title.label = 'Agent workspace';
    this.title.closable = true;
    this.node.append(
      h('div', { className: 'jp-OpenSink-toolbar' }, 'Workspace ', this.picker, this.tabs, this.server),
      this.body
    );
    feed.subscribe(event => {
      if (event.type === 'reset' || event.data?.workspace_id === this.workspace) {
        this.scheduleRedraw();
      }
    });
    void this.start();
  }

  private async start(): Promise<void> {
    try {
      const workspaces = await this.api.list('workspaces');
      this.picker.replaceChildren(...workspaces.map(w => h('option', { value: w.id }, w.name)));
      const chosen = workspaces.find(w => w.is_default) ?? workspaces[0];
      this.workspace = chosen?.id ?? '';
      this.picker.value = this.workspace;
      await this.redraw();
    } catch (error) {
      this.problem(error);
    }
  }

  private problem(error: unknown): void {
    const message = error instanceof ApiError ? error.message : String(error);
    this.body.replaceChildren(
      h('div', { className: error instanceof NotInstalled ? 'jp-OpenSink-disabled' : 'jp-OpenSink-error' }, message)
    );
  }

  private pick(): void {
    this.workspace = this.picker.value;
    this.selected = null;
    void this.redraw();
  }

  /** Shows one view (and optionally one object's detail in it). */
  async showView(view: View, selected: string | null = null): Promise<void> {
    this.view = view;
    this.selected = selected;
    this.search = '';
    await this.redraw();
  }

  private scheduleRedraw(): void {
    if (this.pending === null) {
      this.pending = window.setTimeout(() => {
        this.pending = null;
        void this.redraw();
      }, 250);
    }
  }

  private list(path: string, params: { [key: string]: string } = {}): Promise<Doc[]> {
    return this.api.list(path, { $limit: LIMIT, ...params }, this.workspace, Number(LIMIT));
  }

  async redraw(): Promise<void> {
    if (!this.workspace) {
      return;
    }
    let counts: { [resource: string]: number } = {};
    try {
      const found = await this.api.request('discovery', { workspace: this.workspace });
      counts = found.counts;
      this.server.textContent = `${found.server.name} ${found.server.version}`;
    } catch {
      // the tabs still work without their counts
    }
    this.tabs.replaceChildren(
      ...VIEWS.map(([view, label, counted]) =>
        h(
          'button',
          {
            className: `jp-OpenSink-tab${view === this.view ? ' jp-mod-active' : ''}`,
            'data-view': view,
            onclick: () => void this.showView(view)
          },
          counted && counts[counted] !== undefined ? `${label} (${counts[counted]})` : label
        )
      )
    );
    try {
      const content = await this.draw();
      this.body.replaceChildren(content);
    } catch (error) {
      this.problem(error);
    }
  }

  private async draw(): Promise<HTMLElement> {
    switch (this.view) {
      case 'agents':
        return this.agents();
      case 'sessions':
        return this.sessions();
      case 'sinks':
        return this.sinks();
      case 'jobs':
        return this.jobs();
      case 'runs':
        return this.runs();
      case 'requests':
        return this.requests();
      case 'policies':
        return this.policies();
      default:
        return this.deliveries();
    }
  }

  private async agentNames(): Promise<Map<string, string>> {
    return new Map((await this.list('agents')).map(a => [a.id, a.name]));
  }

  private async agents(): Promise<HTMLElement> {
    const agents = await this.list('agents');
    return table(
      ['Agent', 'Status', 'Execution endpoint', 'Updated'],
      agents.map(a =>
        h(
          'tr',
          { 'data-id': a.id, className: a.offline ? 'jp-OpenSink-agent-offline' : '' },
          h(
            'td',
            {},
            h('a', { onclick: () => void this.showSessionsOf(a.id) }, a.name),
            a.offline
              ? h(
                  'span',
                  { className: 'jp-OpenSink-offline-tag', title: 'Its kernel stopped or restarted: answers wait until it serves again' },
                  'offline'
                )
              : null
          ),
          h('td', {}, status(a.status)),
          h('td', {}, a.execution_endpoint ? `${a.execution_endpoint.method ?? 'POST'} ${a.execution_endpoint.url}` : '—'),
          h('td', {}, when(a.updated_at))
        )
      )
    );
  }

  private agentFilter: string | null = null;

  private async showSessionsOf(agentId: string): Promise<void> {
    this.agentFilter = agentId;
    await this.showView('sessions');
  }

  private async sessions(): Promise<HTMLElement> {
    const names = await this.agentNames();
    const sessions = await this.list('agent-sessions', this.agentFilter ? { agent_id: this.agentFilter } : {});
    const rows = sessions.map(s =>
      h(
        'tr',
        { 'data-id': s.id, className: s.id === this.selected ? 'jp-mod-selected' : '' },
        h('td', {}, h('a', { onclick: () => void this.showView('sessions', s.id) }, s.id.slice(-12))),
        h('td', {}, names.get(s.agent_id) ?? s.agent_id),
        h('td', {}, status(s.status)),
        h('td', {}, when(s.updated_at))
      )
    );
    const detail = this.selected ? await this.session(this.selected) : null;
    return h(
      'div',
      {},
      this.agentFilter
        ? h('div', { className: 'jp-OpenSink-filter' }, `Sessions of ${names.get(this.agentFilter) ?? this.agentFilter} `,
            h('button', { className: 'jp-mod-styled', onclick: () => { this.agentFilter = null; void this.redraw(); } }, 'show all'))
        : null,
      table(['Session', 'Agent', 'Status', 'Updated'], rows),
      detail
    );
  }

  private async session(id: string): Promise<HTMLElement> {
    const session = await this.api.request(`agent-sessions/${id}`, { workspace: this.workspace });
    const activities = await this.list('agent-session-activities', { session_id: id, $order: 'asc' });
    return h(
      'section',
      { className: 'jp-OpenSink-detail', 'data-session-id': id },
      h('h3', {}, 'Session ', h('code', {}, id), ' ', status(session.status)),
      session.error_message ? h('div', { className: 'jp-OpenSink-error' }, session.error_message) : null,
      h('h4', {}, 'State'),
      jsonView(session.state ?? {}),
      h('h4', {}, 'Activity timeline'),
      h(
        'ol',
        { className: 'jp-OpenSink-timeline' },
        activities.map(a =>
          h(
            'li',
            { 'data-type': a.type },
            h('span', { className: 'jp-OpenSink-time' }, when(a.created_at)),
            ' ',
            h('b', {}, a.type),
            ` (${a.source}) `,
            a.message ?? '',
            a.payload && Object.keys(a.payload).length ? jsonView(a.payload, 'payload', false) : null
          )
        )
      )
    );
  }

  private async sinks(): Promise<HTMLElement> {
    const sinks = await this.list('sinks');
    const rows = sinks.map(s =>
      h(
        'tr',
        { 'data-id': s.id, className: s.id === this.selected ? 'jp-mod-selected' : '' },
        h('td', {}, h('a', { onclick: () => void this.showView('sinks', s.id) }, s.name)),
        h('td', {}, s.description ?? ''),
        h('td', {}, when(s.updated_at))
      )
    );
    let detail: HTMLElement | null = null;
    if (this.selected) {
      const params: { [key: string]: string } = { sink_id: this.selected, $limit: '20' };
      if (this.search) {
        params.q = this.search;
      }
      const items = await this.list('sink-items', params);
      const box = h('input', { type: 'search', className: 'jp-OpenSink-search', placeholder: 'Search items', value: this.search });
      box.addEventListener('keydown', (e: KeyboardEvent) => {
        if (e.key === 'Enter') {
          this.search = box.value;
          void this.redraw();
        }
      });
      detail = h(
        'section',
        { className: 'jp-OpenSink-detail' },
        h('h3', {}, this.search ? `Items matching "${this.search}"` : 'Newest items'),
        box,
        h(
          'ul',
          { className: 'jp-OpenSink-items' },
          items.map(i =>
            h('li', { 'data-id': i.id }, h('b', {}, i.title), ` · ${i.type ?? ''} · ${when(i.occurred_at ?? i.created_at)}`,
              i.body ? h('div', {}, i.body) : null)
          )
        ),
        items.length ? null : h('p', { className: 'jp-OpenSink-empty' }, 'No items.')
      );
    }
    return h('div', {}, table(['Sink', 'Description', 'Updated'], rows), detail);
  }

  private async jobs(): Promise<HTMLElement> {
    const jobs = await this.list('background-jobs');
    const act = (job: Doc, path: string, body?: unknown) => async () => {
      try {
        await this.api.request(path, { method: body === undefined ? 'POST' : 'PATCH', body, workspace: this.workspace });
        await this.showView('jobs', job.id);
      } catch (error) {
        this.problem(error);
      }
    };
    const rows = jobs.map(j =>
      h(
        'tr',
        { 'data-id': j.id, className: j.id === this.selected ? 'jp-mod-selected' : '' },
        h('td', {}, h('a', { onclick: () => void this.showView('jobs', j.id) }, j.name)),
        h('td', {}, j.cron ? `${j.cron} (${j.timezone ?? 'UTC'})` : `every ${j.interval_minutes} min`),
        h('td', {}, j.enabled ? when(j.next_run_at) : 'disabled'),
        h('td', {}, when(j.last_run_at)),
        h('td', {}, String(j.total_runs ?? 0)),
        h(
          'td',
          {},
          h('button', { className: 'jp-mod-styled', 'data-action': 'trigger', onclick: act(j, `background-jobs/${j.id}/trigger`) }, 'Run now'),
          h(
            'button',
            { className: 'jp-mod-styled', 'data-action': 'toggle', onclick: act(j, `background-jobs/${j.id}`, { enabled: !j.enabled }) },
            j.enabled ? 'Disable' : 'Enable'
          )
        )
      )
    );
    let detail: HTMLElement | null = null;
    if (this.selected) {
      const runs = await this.list('background-job-runs', { job_id: this.selected });
      detail = h(
        'section',
        { className: 'jp-OpenSink-detail' },
        h('h3', {}, 'Run history'),
        table(
          ['Started', 'Trigger', 'Status', 'Duration', 'HTTP', 'Error'],
          runs.map(r =>
            h(
              'tr',
              { className: r.status === 'failed' ? 'jp-OpenSink-failed' : '' },
              h('td', {}, when(r.started_at)),
              h('td', {}, r.trigger),
              h('td', {}, status(r.status)),
              h('td', {}, r.duration_ms != null ? `${r.duration_ms} ms` : '—'),
              h('td', {}, r.response_status != null ? String(r.response_status) : '—'),
              h('td', {}, r.error_message ?? '')
            )
          )
        )
      );
    }
    return h('div', {}, table(['Job', 'Schedule', 'Next run', 'Last run', 'Runs', ''], rows), detail);
  }

  /** Notebook runs, newest first: how each ended (or how far it is), its output notebook, and why it failed. */
  private async runs(): Promise<HTMLElement> {
    const runs = await this.list('notebook-runs');
    const cancel = (run: Doc) => async () => {
      try {
        await this.api.request(`notebook-runs/${run.id}/cancel`, { method: 'POST', body: {}, workspace: this.workspace });
        await this.redraw();
      } catch (error) {
        this.problem(error);
      }
    };
    const why = (run: Doc): string => {
      if (run.error) {
        const where = run.error.cell_index != null ? `cell ${run.error.cell_index}: ` : '';
        return `${where}${run.error.ename}: ${run.error.evalue}`;
      }
      return run.reason ?? '';
    };
    const output = (run: Doc): HTMLElement =>
      this.openPath
        ? h(
            'a',
            { className: 'jp-OpenSink-output', title: `Open ${run.output_path}`, onclick: () => this.openPath?.(run.output_path) },
            run.output_path
          )
        : h('code', {}, run.output_path);
    return h(
      'div',
      {},
      table(
        ['Notebook', 'Started', 'Status', 'Duration', 'Output', 'Error', ''],
        runs.map(r =>
          h(
            'tr',
            { 'data-id': r.id, className: ['failed', 'timeout'].includes(r.status) ? 'jp-OpenSink-failed' : '' },
            h('td', {}, h('code', {}, r.path)),
            h('td', {}, r.started_at ? when(r.started_at) : `queued ${when(r.created_at)}`),
            h('td', {}, status(r.status)),
            h('td', {}, r.duration_ms != null ? `${(r.duration_ms / 1000).toFixed(1)} s` : '—'),
            h('td', {}, output(r)),
            h('td', { className: 'jp-OpenSink-run-error' }, why(r)),
            h(
              'td',
              {},
              ['queued', 'running'].includes(r.status)
                ? h('button', { className: 'jp-mod-styled', 'data-action': 'cancel', onclick: cancel(r) }, 'Cancel')
                : null
            )
          )
        )
      ),
      runs.length ? null : h('p', { className: 'jp-OpenSink-empty' }, 'No notebook runs yet.')
    );
  }

  private async deliveries(): Promise<HTMLElement> {
    return h('div', {}, await this.callbacks(), await this.notifications());
  }

  /** Calls made to agents' execution endpoints. */
  private async callbacks(): Promise<HTMLElement> {
    const names = await this.agentNames();
    const deliveries = await this.list('execution-deliveries');
    return table(
      ['When', 'Agent', 'Request', 'Call', 'Status', 'Duration', 'Error'],
      deliveries.map(d => {
        const failed = !!d.error || !(d.status_code >= 200 && d.status_code < 300);
        return h(
          'tr',
          { 'data-id': d.id, className: failed ? 'jp-OpenSink-failed' : 'jp-OpenSink-ok' },
          h('td', {}, when(d.created_at)),
          h('td', {}, names.get(d.agent_id) ?? d.agent_id),
          h('td', {}, d.request_id ? h('code', {}, d.request_id.slice(-12)) : '—'),
          h('td', {}, `${d.method} ${d.url}`),
          h('td', {}, d.status_code != null ? String(d.status_code) : '—'),
          h('td', {}, d.duration_ms != null ? `${d.duration_ms} ms` : '—'),
          h('td', {}, d.error ?? '')
        );
      })
    );
  }

  /** Attempts to notify the workspace's channels (mail, chat, push), failures first in red. */
  private async notifications(): Promise<HTMLElement> {
    const channels = new Map((await this.list('notification-channels')).map(c => [c.id, c.name]));
    const attempts = await this.list('notification-deliveries');
    const failed = attempts.filter(a => !a.ok).length;
    return h(
      'section',
      { className: 'jp-OpenSink-notifications' },
      h('h3', {}, 'Notifications', failed ? h('span', { className: 'jp-OpenSink-failed-count' }, ` (${failed} failed)`) : null),
      attempts.length
        ? table(
            ['When', 'Channel', 'Event', 'Request', 'Attempt', 'Outcome'],
            attempts.map(a =>
              h(
                'tr',
                { 'data-id': a.id, className: a.ok ? 'jp-OpenSink-ok' : 'jp-OpenSink-failed' },
                h('td', {}, when(a.created_at)),
                h('td', {}, channels.get(a.channel_id) ?? 'a deleted channel'),
                h('td', {}, a.event),
                h('td', {}, a.request_id ? h('code', {}, a.request_id.slice(-12)) : '—'),
                h('td', {}, String(a.attempt)),
                h('td', {}, a.ok ? 'sent' : a.error ?? 'failed')
              )
            )
          )
        : h('p', { className: 'jp-OpenSink-empty' }, 'No notifications sent yet (channels: /v1/notification-channels).')
    );
  }

  /** Approval policies: what each decides, for whom, and how long it still does; a button deletes one. */
  private async policies(): Promise<HTMLElement> {
    const names = await this.agentNames();
    const policies = await this.list('approval-policies');
    const remove = (id: string) => async () => {
      try {
        await this.api.request(`approval-policies/${id}`, { method: 'DELETE', workspace: this.workspace });
        await this.redraw();
      } catch (error) {
        this.problem(error);
      }
    };
    if (!policies.length) {
      return h(
        'p',
        { className: 'jp-OpenSink-empty' },
        'No approval policies. "Remember" beside Approve in the inbox makes one; POST /v1/approval-policies makes others.'
      );
    }
    return table(
      ['Policy', 'Decides', 'Agent', 'Key', 'Priority', 'Time left', ''],
      policies.map(p => {
        const left = timeLeft(p.expires_at);
        return h(
          'tr',
          { 'data-id': p.id, className: !p.enabled || left === 'expired' ? 'jp-OpenSink-policy-off' : '' },
          h('td', {}, p.name),
          h('td', {}, status(p.decision), p.enabled ? null : ' (disabled)'),
          h('td', {}, p.agent_id ? names.get(p.agent_id) ?? p.agent_id : 'any'),
          h('td', {}, p.request_key ? h('code', {}, p.request_key) : 'any'),
          h('td', {}, String(p.priority)),
          h('td', { className: 'jp-OpenSink-time-left', title: p.expires_at ? when(p.expires_at) : '' }, left),
          h('td', {}, h('button', { className: 'jp-mod-styled jp-mod-warn', 'data-action': 'delete', onclick: remove(p.id) }, 'Delete'))
        );
      })
    );
  }

  /** The request log (every workspace's; the Jupyter user's view), failures highlighted. */
  private async requests(): Promise<HTMLElement> {
    const entries = await this.api.list('request-logs', { $limit: '100' }, undefined, 100);
    return table(
      ['When', 'Request', 'Status', 'Duration', 'Caller', 'Bytes in/out'],
      entries.map(e =>
        h(
          'tr',
          { 'data-id': e.id, className: e.status >= 400 ? 'jp-OpenSink-failed' : 'jp-OpenSink-ok' },
          h('td', {}, when(e.at)),
          h('td', {}, h('code', {}, `${e.method} ${e.path.replace(/^.*\/opensink\/api/, '')}`)),
          h('td', {}, String(e.status)),
          h('td', {}, `${e.duration_ms} ms`),
          h('td', {}, e.key_id ? `key ${e.key_id.slice(-8)}` : e.user ? `user ${e.user}` : '—'),
          h('td', {}, `${e.request_bytes} / ${e.response_bytes ?? '—'}`)
        )
      )
    );
  }
}
