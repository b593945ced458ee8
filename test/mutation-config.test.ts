import { expect, it } from "vitest";

// Mutants run real file-system code: as root, a mutant of prepareDumpDir's loop chmods `/`.
it("npm run test:mutation refuses root with what to do, and loads for an unprivileged user", async () => {
  const loading = import(new URL("../stryker.config.mjs", import.meta.url).href);
  if (process.getuid?.() === 0) {
    await expect(loading).rejects.toThrow(/refuses to run as root.*chmod \/ to 0700.*unprivileged user/s);
  } else {
    const { default: config } = await loading;
    expect(config.thresholds.break).toBe(80);
  }
});
