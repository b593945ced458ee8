import { readFileSync } from "node:fs";

export type Visibility = "public" | "private" | "unknown";

/**
 * From the event payload (`GITHUB_EVENT_PATH`): `repository.private` false or `visibility`
 * "public" is public; a payload that says neither (or none at all) is unknown, never guessed.
 */
export function repositoryVisibility(eventPath: string | undefined): Visibility {
  if (!eventPath) return "unknown";
  try {
    const repository = JSON.parse(readFileSync(eventPath, "utf8")).repository;
    if (repository?.private === false || repository?.visibility === "public") return "public";
    if (repository?.private === true || ["private", "internal"].includes(repository?.visibility)) return "private";
    return "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * A public repository's artifacts can be downloaded by anyone signed in to GitHub: an unencrypted
 * upload from one is refused (an input error, before anything is contacted) unless the user opted
 * in; unknown visibility only warns. Returns what to say, if anything.
 */
export function publicUploadCheck(
  visibility: Visibility,
  o: { upload: boolean; encrypted: boolean; allowUnencryptedPublic: boolean },
): { refuse?: string; warn?: string } {
  if (!o.upload || o.encrypted) return {};
  if (visibility === "public" && !o.allowUnencryptedPublic) {
    return {
      refuse:
        "`allow-unencrypted-public`: this repository is public, so anyone signed in to GitHub could download the dump artifact, with every row of the database. Set `encryption-recipients` to age public keys (see the README), or `upload: false`, or, to publish it unencrypted on purpose, `allow-unencrypted-public: true`.",
    };
  }
  if (visibility === "public") {
    return {
      warn: "This repository is public and `allow-unencrypted-public` is true: anyone signed in to GitHub can download the dump artifact, with every row of the database.",
    };
  }
  if (visibility === "unknown") {
    return {
      warn: "Could not tell from the event payload whether this repository is public. If it is, anyone signed in to GitHub can download the dump artifact: set `encryption-recipients` to age public keys (see the README).",
    };
  }
  return {};
}
