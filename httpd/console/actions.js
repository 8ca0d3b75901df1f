// Actions on executions shared by the list and the detail page.

import { get, post, all } from "./api.js";

/** ACTIVE are the statuses an execution may be stopped in. */
export const ACTIVE = new Set(["QUEUED", "ASSIGNED", "RUNNING"]);

/** stop asks each execution to stop; returns {ok: [execution], failed: [{id, error}]}. */
export async function stop(ids) {
  const ok = [];
  const failed = [];
  await Promise.all(ids.map(async (id) => {
    try {
      ok.push((await post(`/api/executions/${encodeURIComponent(id)}/stop`)).execution);
    } catch (e) {
      failed.push({ id, error: e.message });
    }
  }));
  return { ok, failed };
}

/** rerun queues a new execution of the same workflow, input and priority for each id. */
export async function rerun(ids) {
  const ok = [];
  const failed = [];
  for (const id of ids) {
    try {
      const e = (await get(`/api/executions/${encodeURIComponent(id)}`)).execution;
      const body = { workflowId: e.workflowId, priority: e.priority };
      if (e.input !== null && e.input !== undefined) body.input = e.input;
      ok.push((await post("/api/executions", body)).execution);
    } catch (err) {
      failed.push({ id, error: err.message });
    }
  }
  return { ok, failed };
}

/** userNames maps user ids to names: every user for administrators (who may
 * list them), the signed-in user for everyone. */
export async function userNames(ctx) {
  const names = new Map();
  if (ctx.isAdmin) {
    try {
      const { items } = await all("/api/users", "users", 1000);
      for (const u of items) names.set(u.id, u.name || u.email);
    } catch {
      // ids stay ids
    }
  }
  names.set(ctx.user.id, `${ctx.user.name || ctx.user.email} (you)`);
  return names;
}
