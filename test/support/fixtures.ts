import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

export const readFixture = (path: string) => readFileSync(join(FIXTURES, path), "utf8");

export const listFixtures = (folder: string, extension = ".yml") =>
  readdirSync(join(FIXTURES, folder)).filter((name) => name.endsWith(extension)).sort();

/** The example config at the top of the repository, which the README points newcomers to. */
export const readExample = () => readFileSync(fileURLToPath(new URL("../../routines.example.yml", import.meta.url)), "utf8");
