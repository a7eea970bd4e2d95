// Which tenant a request acts for and which tenants' tasks and models it may see. Routes ask
// here and nowhere else, so the rule "a tenant sees only its own" lives in one place.
import type { FastifyRequest } from "fastify";
import { DEFAULT_TENANT } from "../tasks/task.js";

/** `tenant` undefined: every tenant (an operator token, or no authentication at all). */
export interface Scope {
  tenant: string | undefined;
}

/** What the request may see: its token's tenant, or every tenant for operators. */
export function scopeOf(request: FastifyRequest): Scope {
  return { tenant: request.principal?.tenant };
}

/**
 * The tenant a request acts as when it creates something (a task) or needs one tenant's
 * thing (the serving model): its token's tenant; for operators and open access, `default`.
 */
export function tenantOf(request: FastifyRequest): string {
  return request.principal?.tenant ?? DEFAULT_TENANT;
}
