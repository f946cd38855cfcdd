// Writes docs/install-events.schema.json, the JSON Schema of one line of the install event stream, from the zod
// schemas in ops/events.ts (test/unit/event-schema.test.ts fails when the committed file differs).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { STREAM_VERSION, StreamLineSchema } from '../ops/events.ts';

export const SCHEMA_PATH = fileURLToPath(new URL('../docs/install-events.schema.json', import.meta.url));

/** `io: 'input'` leaves out additionalProperties: false, so a reader of version 1 accepts fields added later. */
export function eventSchemaText(): string {
  const schema = {
    ...z.toJSONSchema(StreamLineSchema, { io: 'input' }),
    title: `shoal-install event stream, version ${STREAM_VERSION}: one JSON object per line`,
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(SCHEMA_PATH, eventSchemaText());
