/** The time of an event as the stream writes it (ISO 8601, UTC). Apart from ops/events.ts so that the runner, which the steps import, does not pull in the event schema, which lists the steps. */
export const now = () => new Date().toISOString();
