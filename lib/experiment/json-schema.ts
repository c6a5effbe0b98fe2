// experiments/experiment.schema.json, generated from experimentSchema so that editors check and
// complete experiment files by the parser's own rules. `npm run gen:schema` writes it; a unit test
// fails when the file on disk no longer matches the zod schema.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { experimentSchema } from './experiment.ts';

export const EXPERIMENT_JSON_SCHEMA_FILE = fileURLToPath(
  new URL('../../experiments/experiment.schema.json', import.meta.url),
);

/** The JSON Schema as written to the file: pretty-printed, with a final newline. */
export function experimentJsonSchemaText(): string {
  const { $schema, ...rest } = z.toJSONSchema(experimentSchema, {
    // The file as people write it (defaults may be left out, env values are strings or numbers),
    // not the parsed result.
    io: 'input',
    // The newest draft that the JSON language services of common editors implement fully.
    target: 'draft-07',
  });
  const schema = {
    $schema,
    title: 'k6-ha experiment',
    description:
      'An experiment file (experiments/*.json): scenario, target, chaos plan and gate profile. Generated from lib/experiment/experiment.ts by `npm run gen:schema`.',
    ...rest,
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
