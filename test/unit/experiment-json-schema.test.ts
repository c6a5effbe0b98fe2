import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EXPERIMENT_JSON_SCHEMA_FILE, experimentJsonSchemaText } from '../../lib/experiment/json-schema.ts';

describe('experiments/experiment.schema.json', () => {
  it('matches the zod schema it is generated from', () => {
    const onDisk = readFileSync(EXPERIMENT_JSON_SCHEMA_FILE, 'utf8');
    // Compared as text: a stale file is stale even when only its order or wording moved.
    assert.ok(
      onDisk === experimentJsonSchemaText(),
      'experiments/experiment.schema.json is stale: the zod schema in lib/experiment/experiment.ts changed — run `npm run gen:schema` and commit the result',
    );
  });

  it('is what every shipped experiment names as its $schema', () => {
    const files = readdirSync('experiments').filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
    assert.ok(files.length >= 5);
    for (const f of files) {
      const json = JSON.parse(readFileSync(`experiments/${f}`, 'utf8')) as { $schema?: unknown };
      assert.equal(
        json.$schema,
        './experiment.schema.json',
        `experiments/${f}: "$schema" should be "./experiment.schema.json"`,
      );
    }
  });
});
