/**
 * A value built on its first use and kept. For zod schemas a command may never parse: zod builds a schema when its
 * module is evaluated, and a compiled binary evaluates every module its entry imports when it starts, so a schema
 * nobody parses still costs every start its build time.
 */
export function builtOnce<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}
