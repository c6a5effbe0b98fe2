// `npm run gen:schema`: writes experiments/experiment.schema.json from the zod schema of experiments.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { EXPERIMENT_JSON_SCHEMA_FILE, experimentJsonSchemaText } from '../lib/experiment/json-schema.ts';

writeFileSync(EXPERIMENT_JSON_SCHEMA_FILE, experimentJsonSchemaText());
console.log(`wrote ${relative(process.cwd(), EXPERIMENT_JSON_SCHEMA_FILE)}`);
