import { percentShares, usd, usdToString, type Usd } from '../core/money.js';
import { iso, toCall, toTraceSummary, type CallRow, type SpanRow, type TraceRow } from './admin.rows.js';
import type { CostBreakdownItemDto, SpanNodeDto, TraceDetailDto } from './dto/admin.responses.js';

interface Node {
  dto: SpanNodeDto;
  cost: Usd;
}

/**
 * The trace as a tree: the trace itself at the root (calls made directly in it have no parent
 * span, as in the seed), named spans below, each call under its enclosing span. A span or call
 * whose parent is missing (not landed yet, or in another service's rows) hangs off the root, so
 * nothing is dropped from the view or the totals.
 */
export function buildTraceDetail(trace: TraceRow, spanRows: SpanRow[], callRows: CallRow[]): TraceDetailDto {
  const summary = toTraceSummary(trace);
  const root: Node = {
    cost: 0n,
    dto: {
      spanId: trace.root_span_id ?? null,
      parentSpanId: trace.root_parent_span_id ?? null,
      name: trace.name,
      kind: 'trace',
      startedAt: summary.startedAt,
      endedAt: summary.endedAt,
      status: trace.status,
      costUsd: '0',
      callCount: 0,
      callIds: [],
      children: [],
    },
  };
  const byId = new Map<string, Node>();
  if (root.dto.spanId) byId.set(root.dto.spanId, root);
  for (const s of spanRows) {
    byId.set(s.span_id, {
      cost: 0n,
      dto: {
        spanId: s.span_id,
        parentSpanId: s.parent_span_id,
        name: s.name,
        kind: 'span',
        startedAt: iso(s.started_at),
        endedAt: iso(s.ended_at),
        status: s.status,
        costUsd: '0',
        callCount: 0,
        callIds: [],
        children: [],
      },
    });
  }
  const parentOf = (id: string | null): Node => (id ? byId.get(id) : undefined) ?? root;
  const childNodes = new Map<Node, Node[]>();
  for (const s of spanRows) {
    const node = byId.get(s.span_id)!;
    let parent = parentOf(s.parent_span_id);
    if (parent === node || createsCycle(node, parent, byId)) parent = root;
    const list = childNodes.get(parent) ?? [];
    list.push(node);
    childNodes.set(parent, list);
  }

  // Calls add to their span and every ancestor: the same live roll-up the core does in process.
  const parents = new Map<Node, Node>();
  for (const [parent, children] of childNodes) for (const c of children) parents.set(c, parent);
  const breakdown = new Map<string, { provider: string; model: string; cost: Usd; calls: number; inputTokens: number; outputTokens: number }>();
  for (const c of callRows) {
    const cost = c.cost === null ? 0n : usd(c.cost);
    const home = parentOf(c.parent_span_id);
    home.dto.callIds.push(c.span_id);
    for (let n: Node | undefined = home; n; n = parents.get(n)) {
      n.cost += cost;
      n.dto.callCount++;
    }
    const key = c.provider + '\u0000' + c.model;
    const b = breakdown.get(key) ?? { provider: c.provider, model: c.model, cost: 0n, calls: 0, inputTokens: 0, outputTokens: 0 };
    b.cost += cost;
    b.calls++;
    b.inputTokens += c.input_tokens;
    b.outputTokens += c.output_tokens;
    breakdown.set(key, b);
  }
  const finish = (n: Node): SpanNodeDto => {
    n.dto.costUsd = usdToString(n.cost);
    n.dto.children = (childNodes.get(n) ?? []).map(finish);
    return n.dto;
  };

  const items = [...breakdown.values()].sort((a, b) => (a.cost === b.cost ? a.model.localeCompare(b.model) : a.cost > b.cost ? -1 : 1));
  const total = items.reduce((sum, i) => sum + i.cost, 0n);
  const pcts = percentShares(items.map((i) => i.cost), total);
  const costBreakdown: CostBreakdownItemDto[] = items.map((i, k) => ({
    provider: i.provider,
    model: i.model,
    costUsd: usdToString(i.cost),
    pct: pcts[k],
    calls: i.calls,
    inputTokens: i.inputTokens,
    outputTokens: i.outputTokens,
  }));

  return {
    trace: summary,
    root: finish(root),
    calls: callRows.map(toCall),
    costBreakdown,
    totals: {
      totalCostUsd: summary.totalCostUsd,
      callCount: summary.callCount,
      unpricedCallCount: summary.unpricedCallCount,
      errorCallCount: summary.errorCallCount,
      inputTokens: summary.inputTokens,
      outputTokens: summary.outputTokens,
      cachedTokens: summary.cachedTokens,
      durationMs: summary.durationMs,
      spanCount: spanRows.length,
    },
  };
}

/** Rows from several writers may disagree; a parent chain that loops back must not hang the build. */
function createsCycle(node: Node, parent: Node, byId: Map<string, Node>): boolean {
  const seen = new Set<Node>([node]);
  for (let p: Node | undefined = parent; p; ) {
    if (seen.has(p)) return true;
    seen.add(p);
    const id: string | null = p.dto.parentSpanId;
    p = id && p.dto.kind === 'span' ? byId.get(id) : undefined;
  }
  return false;
}
