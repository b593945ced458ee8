// An existing unprivileged user of this machine, for the paths a non-root identity takes: tests
// never create users (that would change the machine). Not root, nobody or postgres: the action
// refuses those for its server (src/restore-check/server-identity.ts).
import { readFileSync } from "node:fs";

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** The first ordinary user (uid 1000 and up), else a system one such as `daemon`. */
export function unprivilegedUser(): TestUser {
  const users = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .filter((f) => f.length >= 7)
    .map((f) => ({ name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]) }))
    .filter((u) => u.uid > 0 && u.uid < 65534 && !["nobody", "postgres", "sync"].includes(u.name));
  const user = users.find((u) => u.uid >= 1000) ?? users.find((u) => u.name === "daemon") ?? users[0];
  if (!user) throw new Error("no unprivileged user in /etc/passwd to run the test server as");
  return user;
}
