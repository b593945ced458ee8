import { ScalingoApiError } from "../errors.js";
import type { ApiResponse } from "./http.js";

// What the action reads in Scalingo's answers, read defensively. Scalingo documents the shapes but
// not what an empty one looks like: a list or object may come back null or be left out, and then
// it is empty (a new database's rules: `{"rules": null}`). Anything else of the wrong shape is an
// error naming the call and its request id, never a TypeError deep in the action.

export interface FirewallRule {
  id: string;
  type: "custom_range" | "managed_range";
  cidr?: string;
  label?: string;
  range_id?: string;
}

export interface DatabaseDetails {
  id?: string;
  status: string;
  readable_version: string;
}

export interface Region {
  name: string;
  api: string;
  /** The database API host; a region may stop listing it once the API has moved. */
  database_api?: string;
}

type Json = Record<string, unknown>;
type Answer = Pick<ApiResponse<unknown>, "call" | "status" | "requestId">;

function wrongShape(a: Answer, what: string): ScalingoApiError {
  const where = a.requestId ? ` (request id ${a.requestId})` : "";
  return new ScalingoApiError(`${a.call} answered ${a.status} with an answer of the wrong shape: ${what}${where}`, a.status);
}

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** `field` of `parent` as an object: null or missing is empty. */
function objectAt(a: Answer, parent: Json, field: string): Json {
  const value = parent[field];
  if (value === null || value === undefined) return {};
  if (!isObject(value)) throw wrongShape(a, `"${field}" is not an object`);
  return value;
}

/** `field` of `parent` as a list of objects: null or missing is empty. */
function listAt(a: Answer, parent: Json, field: string): Json[] {
  const value = parent[field];
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isObject)) throw wrongShape(a, `"${field}" is not a list of objects`);
  return value;
}

/** A string the call cannot do without. */
function required(a: Answer, parent: Json, field: string, where: string): string {
  const value = parent[field];
  if (typeof value !== "string" || value === "") throw wrongShape(a, `${where} has no "${field}"`);
  return value;
}

/** A string the action can do without: null, missing or another type is absent. */
function optional(parent: Json, field: string): string | undefined {
  const value = parent[field];
  return typeof value === "string" ? value : undefined;
}

/** The whole body: an empty body or null is an empty object. */
function root(res: ApiResponse<unknown>): Json {
  if (res.body === null || res.body === undefined) return {};
  if (!isObject(res.body)) throw wrongShape(res, "not a JSON object");
  return res.body;
}

export function tokenOf(res: ApiResponse<unknown>): string {
  return required(res, root(res), "token", "the answer");
}

export function regionsOf(res: ApiResponse<unknown>): Region[] {
  return listAt(res, root(res), "regions").map((r) => ({
    name: required(res, r, "name", "a region"),
    api: required(res, r, "api", "a region"),
    database_api: optional(r, "database_api") || undefined,
  }));
}

export function addonIdsOf(res: ApiResponse<unknown>): string[] {
  return listAt(res, root(res), "addons").map((addon) => required(res, addon, "id", "an addon"));
}

export function addonTokenOf(res: ApiResponse<unknown>): string {
  return required(res, objectAt(res, root(res), "addon"), "token", '"addon"');
}

export function variableOf(res: ApiResponse<unknown>, name: string): string | undefined {
  const variable = listAt(res, root(res), "variables").find((v) => v.name === name);
  return variable ? optional(variable, "value") : undefined;
}

export function databaseOf(res: ApiResponse<unknown>): DatabaseDetails {
  const db = objectAt(res, root(res), "database");
  return { id: optional(db, "id"), status: required(res, db, "status", '"database"'), readable_version: required(res, db, "readable_version", '"database"') };
}

function ruleOf(res: ApiResponse<unknown>, rule: Json): FirewallRule {
  const type = required(res, rule, "type", "a rule");
  return {
    id: required(res, rule, "id", "a rule"),
    type: type as FirewallRule["type"],
    ...(optional(rule, "cidr") ? { cidr: optional(rule, "cidr") } : {}),
    ...(optional(rule, "label") !== undefined ? { label: optional(rule, "label") } : {}),
    ...(optional(rule, "range_id") ? { range_id: optional(rule, "range_id") } : {}),
  };
}

export function rulesOf(res: ApiResponse<unknown>): FirewallRule[] {
  return listAt(res, root(res), "rules").map((rule) => ruleOf(res, rule));
}

export function createdRuleOf(res: ApiResponse<unknown>): FirewallRule {
  return ruleOf(res, objectAt(res, root(res), "rule"));
}

/**
 * `readable_version` as people write a PostgreSQL version: `17.11.0-1` (Scalingo's changelog,
 * 2026-08-19) and `17.2.0` both give major.minor (`17.11`, `17.2`); the major leads either way.
 */
export function serverVersionOf(readable: string): string {
  const match = /^(\d+)(?:\.(\d+))?/.exec(readable.trim());
  if (!match) return readable;
  return match[2] === undefined ? match[1] : `${match[1]}.${match[2]}`;
}
