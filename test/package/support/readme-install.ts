import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './packed-tarball.js';

const PACKAGE = '@kostrack/nestjs';

/** The README as users read it on npm and GitHub. */
export function readme(): string {
  return readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
}

/**
 * The packages the README's Install section tells a user to install: every `npm i` / `npm install`
 * line of its code blocks, in order, flags left out. The package specs install exactly these (the
 * tarball in place of the package), so the README's line is the one that is tested.
 */
export function readmeInstall(text = readme()): string[] {
  const section = /^## Install\n([\s\S]*?)(?=^## )/m.exec(text)?.[1];
  if (!section) throw new Error('README.md has no "## Install" section');
  const lines = [...section.matchAll(/```\w*\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1].split('\n'))
    .map((l) => l.trim())
    .filter((l) => /^npm (i|install)\s/.test(l));
  const packages = lines.flatMap((l) => l.split(/\s+/).slice(2)).filter((p) => !p.startsWith('-'));
  if (!packages.includes(PACKAGE)) throw new Error(`README.md's Install section installs no ${PACKAGE}: ${JSON.stringify(lines)}`);
  return packages;
}

/** The README's install line with the packed tarball in place of the package (what a user gets from the registry). */
export function readmeInstallWith(tarball: string, pin: (name: string) => string = (name) => name): string[] {
  return readmeInstall().map((p) => (p === PACKAGE ? tarball : pin(p)));
}

/** The README's TypeScript block that starts with `// <file> ` (its examples are shown whole, named by their file). */
export function readmeExample(file: string, text = readme()): string {
  const block = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.startsWith(`// ${file} `));
  if (!block) throw new Error(`README.md shows no ${file}`);
  return block;
}
