/**
 * One vocabulary across the public surface: a partner imports several earnbook packages into one
 * service, so no exported name — value or type — may be exported by two packages with (possibly)
 * different meanings. The surfaces are read with the TypeScript compiler API from each package's
 * `src/index.ts`, following `export *` and re-exports.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const PACKAGES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages');

/** Every package's exported names (values and types), by package folder. */
function publicNames(): Map<string, ReadonlySet<string>> {
  const folders = readdirSync(PACKAGES_DIR, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  const entries = folders.map((folder) => join(PACKAGES_DIR, folder, 'src', 'index.ts'));
  const program = ts.createProgram(entries, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const names = new Map<string, ReadonlySet<string>>();
  folders.forEach((folder, index) => {
    const source = program.getSourceFile(entries[index] ?? '');
    if (source === undefined) return;
    const module = checker.getSymbolAtLocation(source);
    names.set(folder, new Set(module === undefined ? [] : checker.getExportsOfModule(module).map((symbol) => symbol.name)));
  });
  return names;
}

/** Names exported by more than one package, with the packages that export them. */
function sharedNames(names: ReadonlyMap<string, ReadonlySet<string>>): Record<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [folder, exported] of names) for (const name of exported) owners.set(name, [...(owners.get(name) ?? []), folder]);
  return Object.fromEntries([...owners].filter(([, folders]) => folders.length > 1));
}

describe('the public surface', () => {
  const names = publicNames();

  it('is read from every package, types included', () => {
    expect([...names.keys()]).toEqual(expect.arrayContaining(['cli', 'earn-client', 'earn-sandbox', 'ledger', 'reconcile']));
    // Values, interfaces and type aliases, and names reached through `export *`.
    for (const [folder, name] of [['ledger', 'Ledger'], ['ledger', 'LedgerAccount'], ['ledger', 'LedgerInterestTier'], ['earn-client', 'Account'], ['earn-client', 'InterestTier'], ['reconcile', 'planDayReports'], ['reconcile', 'BreakKind']] as const) {
      expect(names.get(folder)?.has(name), `${folder} exports ${name}`).toBe(true);
    }
  });

  it('finds a name two packages export', () => {
    expect(sharedNames(new Map([['a', new Set(['Account', 'A'])], ['b', new Set(['Account', 'B'])]]))).toEqual({ Account: ['a', 'b'] });
  });

  it('exports no name from two packages', () => {
    expect(sharedNames(names)).toEqual({});
  });
});
