// The TypeScript type of what a JSON schema declared `as const` accepts, so that each body is
// declared once, as its schema, and its type follows from it. It knows only the keywords our
// schemas use: `type` (one, or a list such as ['string', 'null']), `enum`, `properties` with
// `required`, and `items`. Nothing here needs Node.js: the web front end sees these types too.

type Primitive<T> = T extends 'string'
  ? string
  : T extends 'integer' | 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : never;

type Simplify<T> = { [K in keyof T]: T[K] };

/** An object: what `required` names must be there, the other properties may be left out. */
type ObjectOf<P, Required> = Simplify<
  { -readonly [K in keyof P & Required]: FromSchema<P[K]> } & { -readonly [K in Exclude<keyof P, Required>]?: FromSchema<P[K]> }
>;

export type FromSchema<S> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { type: 'object'; properties: infer P }
    ? ObjectOf<P, S extends { required: readonly (infer R)[] } ? R : never>
    : S extends { type: 'array'; items: infer I }
      ? Array<FromSchema<I>>
      : S extends { type: readonly (infer T)[] }
        ? Primitive<T>
        : S extends { type: infer T }
          ? Primitive<T>
          : unknown;

/**
 * `schema` with every property required: for answers, which always carry all of theirs (the
 * OpenAPI document then says so, and the type has no optional fields).
 */
export function allRequired<const S extends { type: 'object'; properties: Record<string, unknown> }>(
  schema: S,
): S & { required: ReadonlyArray<keyof S['properties'] & string> } {
  return { ...schema, required: Object.keys(schema.properties) as Array<keyof S['properties'] & string> };
}
