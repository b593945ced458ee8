/** Names shared by the main and post steps: saved-state keys, defaults. */
export const State = {
  /** Label of the rule main is about to add; saved before the POST so post can find a rule whose id main never saw. */
  ruleLabel: "rule-label",
  /** Address of that rule, saved with the label: post matches both, since a label alone may be shared. */
  ruleCidr: "rule-cidr",
  /** The default label's random token, saved before the POST: what identifies this job's rule (see rule-label.ts). */
  ruleToken: "rule-token",
  /** Id of the rule this job created; saved right after the API answered. */
  ruleId: "rule-id",
  /** The database-API form the rules answered in ("regional" or "legacy"): post calls the same. */
  firewallApi: "firewall-api",
  /** "true" once main removed its rule itself: post has nothing to do. */
  ruleRemoved: "rule-removed",
  /** The restore check's server ({folder, binDir, osUser}), saved before it starts: post stops it if main died before. */
  restoreServer: "restore-server",
  /** The restore action's private folder (downloads, plaintext): post removes it if main could not. */
  restoreFolder: "restore-folder",
  /** Files and folders not finished yet (JSON list), saved before each is created: post removes what main did not. */
  plaintext: "plaintext",
  /** The running pg_dump ({pid, startTicks}), "" once it ended: post stops a pg_dump a killed main left writing. */
  pgDump: "pg-dump",
  /** The restore action's running pg_restore (psql for a plain dump), the same way: post stops what a killed main left restoring. */
  pgRestore: "pg-restore",
} as const;

export const DEFAULT_IP_LOOKUP_URLS = ["https://api.ipify.org", "https://checkip.amazonaws.com", "https://ipv4.icanhazip.com", "https://ipinfo.io/ip"] as const;

export const DEFAULT_PG_DUMP_ARGS = "--clean --if-exists --no-owner --no-privileges --no-comments --exclude-schema=information_schema --exclude-schema=^pg_*";

export const USER_AGENT = "scalingo-pg-dump/1 (+https://github.com/marketplace/actions/scalingo-pg-dump)";
