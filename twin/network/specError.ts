/**
 * Validation of generator options and city specs with errors that name the offending field,
 * so an operator editing `data/demo-city.json` reads "network.rows: ..." rather than a stack.
 */
import type { z } from 'zod';

export class SpecError extends Error {
  /** Dotted path of the first bad field, e.g. `network.avenues[0].index`. */
  readonly field: string;
  constructor(
    message: string,
    field: string,
    readonly issues: readonly string[],
  ) {
    super(message);
    this.name = 'SpecError';
    this.field = field;
  }
}

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Parses `input` with `schema`; on failure throws a SpecError naming every bad field. */
export function parseSpec<S extends z.ZodType>(schema: S, input: unknown, what: string, basePath: readonly PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${fieldPath([...basePath, ...issue.path])}: ${issue.message}`);
  const field = fieldPath([...basePath, ...(result.error.issues[0]?.path ?? [])]);
  throw new SpecError(`${what}: invalid ${issues.length === 1 ? 'field' : 'fields'}: ${issues.join('; ')}`, field, issues);
}
