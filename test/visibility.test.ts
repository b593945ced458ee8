// Whether the dump may be uploaded unencrypted: a public repository's artifacts can be downloaded by
// anyone signed in to GitHub. The visibility comes from the event payload, never guessed.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicUploadCheck, repositoryVisibility, type Visibility } from "../src/visibility.js";

describe("the repository's visibility, from GITHUB_EVENT_PATH", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "visibility-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const payload = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const of = async (repository: unknown) => repositoryVisibility(await payload(`${Math.random()}.json`, JSON.stringify({ repository })));

  it("public when private is false or visibility says public", async () => {
    expect(await of({ private: false })).toBe("public");
    expect(await of({ visibility: "public" })).toBe("public");
    // Either field alone is enough to know it is public, whatever the other says.
    expect(await of({ private: false, visibility: "private" })).toBe("public");
    expect(await of({ private: true, visibility: "public" })).toBe("public");
  });

  it("private when private is true or visibility is private or internal", async () => {
    expect(await of({ private: true })).toBe("private");
    expect(await of({ visibility: "private" })).toBe("private");
    expect(await of({ visibility: "internal" })).toBe("private");
    expect(await of({ private: true, visibility: "internal" })).toBe("private");
  });

  it("unknown, never guessed: no payload, no repository, neither field, other values, a file that is not JSON or not there", async () => {
    expect(repositoryVisibility(undefined)).toBe("unknown");
    expect(repositoryVisibility("")).toBe("unknown");
    expect(await of(undefined)).toBe("unknown");
    expect(await of({ name: "shop" })).toBe("unknown");
    expect(await of({ private: "false", visibility: "secret" })).toBe("unknown");
    expect(await of({ private: null })).toBe("unknown");
    expect(repositoryVisibility(await payload("broken.json", "{ not json"))).toBe("unknown");
    expect(repositoryVisibility(path.join(dir, "missing.json"))).toBe("unknown");
    expect(repositoryVisibility(await payload("null.json", "null"))).toBe("unknown");
  });
});

describe("an unencrypted upload from a public repository", () => {
  const check = (visibility: Visibility, o: Partial<{ upload: boolean; encrypted: boolean; allowUnencryptedPublic: boolean }> = {}) =>
    publicUploadCheck(visibility, { upload: true, encrypted: false, allowUnencryptedPublic: false, ...o });

  it("is refused, naming the input and the ways out, unless the user opted in", () => {
    const { refuse, warn } = check("public");
    expect(warn).toBeUndefined();
    expect(refuse).toMatch(/^`allow-unencrypted-public`: this repository is public, so anyone signed in to GitHub could download the dump artifact/);
    expect(refuse).toMatch(/Set `encryption-recipients` to age public keys \(see the README\), or `upload: false`, or, .* `allow-unencrypted-public: true`\.$/);
  });

  it("opted in: allowed, with a warning", () => {
    expect(check("public", { allowUnencryptedPublic: true })).toEqual({
      warn: "This repository is public and `allow-unencrypted-public` is true: anyone signed in to GitHub can download the dump artifact, with every row of the database.",
    });
  });

  it("unknown visibility: allowed, with a warning that says what to do", () => {
    const { refuse, warn } = check("unknown");
    expect(refuse).toBeUndefined();
    expect(warn).toMatch(/^Could not tell from the event payload whether this repository is public\. .*set `encryption-recipients` to age public keys/);
    expect(check("unknown", { allowUnencryptedPublic: true }).warn).toBe(warn);
  });

  it("says nothing for a private repository, an encrypted dump, or no upload", () => {
    expect(check("private")).toEqual({});
    for (const visibility of ["public", "unknown", "private"] as const) {
      expect(check(visibility, { encrypted: true })).toEqual({});
      expect(check(visibility, { upload: false })).toEqual({});
    }
  });
});
