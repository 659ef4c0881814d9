// The view logic of the KAM company card: turns the raw value of the company property
// kam_card_json (a kam.card.v1 document written by the KAM Add-in's sync) into display strings.
// Pure: no React, no HubSpot SDK, no I/O, so `node --test` checks it against cards the C++ side
// produced. KamCard.jsx only lays these strings out.

export const CARD_VERSION = "kam.card.v1";

const STATUS_VARIANT = { green: "success", amber: "warning", red: "danger" };
const GOAL_TEXT = { met: "Met", not_met: "Not met", unknown: "Unknown" };
const GOAL_VARIANT = { met: "success", not_met: "danger", unknown: "default" };
const COMPARISON_TEXT = { at_least: "at least", at_most: "at most", equals: "" };
const TRUNCATED_TEXT = {
  long_texts: "long texts",
  inputs: "the inputs of each criterion",
  goals: "some goals",
  health: "some health indicators",
  levers: "the levers to the next tier",
  breakdown: "some criteria",
  ids: "the end of long names",
};

// 1234567.891 -> "1,234,567.89"; integers without decimals; non-numbers as they are.
export function formatNumber(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return String(value);
  const negative = value < 0;
  const rounded = Math.round(Math.abs(value) * 100) / 100;
  let [whole, decimals] = rounded.toString().split(".");
  if (whole.includes("e")) return (negative ? "-" : "") + rounded.toString();
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + whole + (decimals ? "." + decimals : "");
}

function plural(n, one, many) {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}

// A JSON value read by a rule, for people: null -> "empty", true -> "yes", numbers grouped.
export function formatValue(value, unit) {
  if (value === null || value === undefined) return "empty";
  if (typeof value === "boolean") return value ? "yes" : "no";
  const text = typeof value === "number" ? formatNumber(value) : String(value);
  return unit ? `${text} ${unit}` : text;
}

// "2026-12-03T19:00:00Z" -> "2026-12-03 19:00 UTC" (no time zone guessing in the card).
export function formatScoredAt(iso) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso || "");
  return m ? `${m[1]} ${m[2]} UTC` : iso || "unknown";
}

// Parses the property value. state: "ok" | "empty" | "invalid" | "unsupported".
export function parseCard(raw) {
  if (raw === undefined || raw === null || String(raw).trim() === "") {
    return { state: "empty", message: "No key-account data yet: the next KAM sync writes it." };
  }
  let card;
  try {
    card = typeof raw === "string" ? JSON.parse(raw) : raw;
  } catch (e) {
    return { state: "invalid", message: `The key-account data cannot be read (${e.message}).` };
  }
  if (card === null || typeof card !== "object" || Array.isArray(card)) {
    return { state: "invalid", message: "The key-account data is not a JSON object." };
  }
  if (card.schema !== CARD_VERSION) {
    return {
      state: "unsupported",
      message: `This card shows ${CARD_VERSION} data, the sync wrote ${JSON.stringify(
        card.schema ?? null)}: update the card app (hs project upload).`,
    };
  }
  return { state: "ok", card };
}

function breakdownRows(card) {
  const total = (card.breakdown || []).reduce((sum, row) => sum + (row.points || 0), 0);
  return (card.breakdown || []).map((row) => ({
    label: row.label || row.criterion,
    weight: formatNumber(row.weight),
    score: `${formatNumber(row.score)} / 10`,
    points: formatNumber(row.points),
    share: total > 0 ? row.points / total : 0,
    inputs: (row.inputs || [])
      .map((input) => `${input.path.replace(/^account\./, "")} = ${formatValue(input.value)}`)
      .join(", "),
  }));
}

function nextTier(card) {
  const next = card.next_tier;
  if (!next) return null;
  const title =
    next.points_needed === null || next.points_needed === undefined
      ? `Next tier: ${next.label}`
      : `${plural(next.points_needed, "point", "points")} to ${next.label}`;
  const levers = (next.levers || []).map(
    (lever) =>
      `${lever.label}: ${formatNumber(lever.score)} → ${formatNumber(lever.to)} ` +
      `(+${plural(lever.points, "point", "points")}${lever.lifts_alone ? ", enough on its own" : ""})`
  );
  return { title, levers, hint: next.hint || "" };
}

function goalRows(card) {
  return (card.goals || []).map((goal) => {
    const comparison = COMPARISON_TEXT[goal.comparison] ?? "";
    const target = `${comparison ? comparison + " " : ""}${formatValue(goal.target, goal.unit)}`;
    return {
      label: goal.label || goal.id,
      status: GOAL_TEXT[goal.status] || "Unknown",
      variant: GOAL_VARIANT[goal.status] || "default",
      detail: `${formatValue(goal.value, goal.value === null ? "" : goal.unit)} (target ${target})`,
    };
  });
}

// The goal trend against the run before the card was written (card.goals_trend; absent in cards
// written before it, null on a first run): "Up since the run before: 2 → 3 goals met
// (Executive sponsor: not met → met)", or null.
function goalsTrend(card) {
  const trend = card.goals_trend;
  if (!trend || typeof trend !== "object") return null;
  const word = { up: "Up", down: "Down", same: "Unchanged" }[trend.direction] || "Unchanged";
  const changed = (trend.changed || []).map((c) => {
    const from = c.from ? (GOAL_TEXT[c.from] || c.from).toLowerCase() : "new";
    const to = c.to ? (GOAL_TEXT[c.to] || c.to).toLowerCase() : "no longer a goal";
    return `${c.label || c.id}: ${from} → ${to}`;
  });
  return {
    direction: trend.direction,
    variant: trend.direction === "up" ? "success" : trend.direction === "down" ? "danger" : "default",
    text:
      `${word} since the run before: ${formatNumber(trend.previous_met)} → ` +
      `${plural(trend.met, "goal", "goals")} met` +
      (changed.length ? ` (${changed.join("; ")})` : ""),
  };
}

// Everything KamCard.jsx shows, as strings (and a few numbers for bars).
export function viewModel(raw) {
  const parsed = parseCard(raw);
  if (parsed.state !== "ok") return { state: parsed.state, message: parsed.message };
  const card = parsed.card;
  const tier = card.tier || { id: "", label: "" };
  const byScore = card.tier_by_score || tier;
  const goals = goalRows(card);
  const met = goals.filter((g) => g.status === "Met").length;
  const truncated = (card.truncated || []).map((t) => TRUNCATED_TEXT[t] || t);
  return {
    state: "ok",
    message: "",
    title: `${tier.label || tier.id} · score ${formatNumber(card.score)}`,
    score: formatNumber(card.score),
    scoreMax: typeof card.score_max === "number" ? `of ${formatNumber(card.score_max)}` : "",
    scoreShare:
      typeof card.score_max === "number" && card.score_max > 0 ? card.score / card.score_max : null,
    tier: tier.label || tier.id,
    capped:
      byScore.id !== tier.id
        ? `Scored as ${byScore.label || byScore.id}, held at ${tier.label || tier.id}: ${
            card.capped_reason || "tier capacity reached"}`
        : null,
    rank: card.rank > 0 ? `Rank ${formatNumber(card.rank)}` : "",
    pareto: card.pareto ? "Among the accounts that bring most of the revenue (Pareto)" : "",
    breakdown: breakdownRows(card),
    nextTier: nextTier(card),
    health: (card.health || []).map((h) => ({
      label: h.label || h.id,
      status: h.status,
      variant: STATUS_VARIANT[h.status] || "default",
    })),
    goals,
    goalsSummary: goals.length === 0 ? "No goals for this tier" : `${met} of ${goals.length} goals met`,
    goalsTrend: goalsTrend(card),
    openTasks:
      typeof card.open_tasks === "number"
        ? plural(card.open_tasks, "open KAM task", "open KAM tasks")
        : "Open KAM tasks: unknown",
    footer: `Scored ${formatScoredAt(card.scored_at)} · rules ${card.rules_version || "unknown"}`,
    truncated: truncated.length
      ? `Left out to fit the CRM field: ${truncated.join(", ")}. The full explanation: kam rules explain.`
      : null,
  };
}
