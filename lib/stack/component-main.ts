// Entry point of one stack component process: `node --import tsx lib/stack/component-main.ts
// <publisher|sink|stan-sink> '<options JSON>'`. Separate processes so chaos can kill each one on its own.
import { Publisher, type PublisherOptions } from './publisher.ts';
import { Sink, type SinkOptions } from './sink.ts';
import { StanSink, type StanSinkOptions } from './stan/stan-sink.ts';

const [component, json] = process.argv.slice(2);
if (component === undefined || json === undefined) {
  process.stderr.write('usage: component-main.ts <publisher|sink|stan-sink> <options-json>\n');
  process.exit(2);
}
const options = JSON.parse(json) as unknown;
if (component === 'publisher') {
  // nats.js (nats-core 3.x, RequestOne.cancel) builds a RequestError per *successful* request and
  // drops it: capturing its stack was 7 % of the publisher's CPU at 1,000 events/s. The publisher
  // turns every error into an HTTP status and a message, never a stack, so it captures none.
  Error.stackTraceLimit = 0;
}
const service =
  component === 'publisher'
    ? new Publisher(options as PublisherOptions)
    : component === 'sink'
      ? new Sink(options as SinkOptions)
      : component === 'stan-sink'
        ? new StanSink(options as StanSinkOptions)
        : null;
if (service === null) {
  process.stderr.write(`unknown component ${JSON.stringify(component)}: expected publisher, sink or stan-sink\n`);
  process.exit(2);
}
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
await service.start();
// The stack reads the bound port from this line (started with port 0, it picks a free one itself).
process.stdout.write(`${component} ready port=${service.port}\n`);
