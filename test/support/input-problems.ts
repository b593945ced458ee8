import { expect } from "vitest";
import { InputError } from "../../src/errors.js";

/** The problems an input parser reported (it must throw an InputError, or accept). */
export function inputProblems(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).problems;
  }
  return [];
}
