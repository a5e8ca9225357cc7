// Display names of states, fetched once per page view (GET /v1/states) for
// pages whose API answers name states without their display names.
import { api, loc } from "../api.js";

export async function stateNames(signal) {
  const names = new Map();
  try {
    const r = await api("/v1/states", { pageSize: 1000 }, { signal });
    for (const s of r.states ?? []) names.set(s.name, loc(s.displayName));
  } catch (e) {
    if (e.kind === "cancelled") throw e;
    // Names fall back to the resource IDs.
  }
  return (name) => names.get(name) ?? name.split("/").pop().toUpperCase();
}

// Settled results of several calls: [value or null], and the notice parts
// of those that failed (by what they were for).
export function settle(results, labels) {
  const failed = [];
  const values = results.map((r, i) => {
    if (r.status === "fulfilled") return r.value;
    if (r.reason?.kind === "cancelled") throw r.reason;
    failed.push(`${labels[i]} (${r.reason?.message ?? r.reason})`);
    return null;
  });
  return { values, failed };
}
