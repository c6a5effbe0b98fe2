import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildEventRequest, classifyStatus, EventRequestTemplate, IsoTimeFormatter } from '../../lib/k6/cloudevents.ts';
import { parseCloudEvent, parseLegacyEvent, subjectFor } from '../../lib/stack/publisher.ts';

const event = {
  id: 'run-1',
  type: 'order.created.v1',
  source: 'k6-ha',
  time: '2026-01-01T00:00:00Z',
  data: { seq: 1 },
};

describe('CloudEvents requests built in k6 and parsed by the publisher', () => {
  it('round-trips binary mode', () => {
    const req = buildEventRequest('binary', event);
    assert.equal(req.headers['ce-id'], 'run-1');
    const parsed = parseCloudEvent(req.headers, Buffer.from(req.body));
    assert.deepEqual(
      { id: parsed.id, type: parsed.type, source: parsed.source },
      { id: 'run-1', type: 'order.created.v1', source: 'k6-ha' },
    );
    assert.equal(Buffer.from(parsed.data).toString(), '{"seq":1}');
    assert.equal(parsed.extra['time'], '2026-01-01T00:00:00Z');
  });

  it('round-trips structured mode', () => {
    const req = buildEventRequest('structured', event);
    assert.equal(req.headers['content-type'], 'application/cloudevents+json');
    const parsed = parseCloudEvent(req.headers, Buffer.from(req.body));
    assert.equal(parsed.id, 'run-1');
    assert.equal(Buffer.from(parsed.data).toString(), '{"seq":1}');
  });

  it('builds the legacy /{app}/v1/events body with the version split off the type', () => {
    const req = buildEventRequest('legacy', event);
    const body = JSON.parse(req.body) as Record<string, unknown>;
    assert.equal(body['event-type'], 'order.created');
    assert.equal(body['event-type-version'], 'v1');
    const parsed = parseLegacyEvent('myapp', Buffer.from(req.body));
    assert.equal(parsed.type, 'order.created.v1');
    assert.equal(parsed.source, 'myapp');
  });

  it('rejects events missing required attributes, saying which', () => {
    assert.throws(
      () => parseCloudEvent({ 'ce-specversion': '1.0', 'ce-type': 't' }, Buffer.from('{}')),
      /ce-id, ce-source/,
    );
    assert.throws(
      () =>
        parseCloudEvent(
          { 'content-type': 'application/cloudevents+json' },
          Buffer.from('{"specversion":"1.0","id":"x","type":"t"}'),
        ),
      /"source"/,
    );
    assert.throws(
      () => parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, Buffer.from('not json')),
      /not valid JSON/,
    );
    assert.throws(
      () =>
        parseCloudEvent({ 'ce-specversion': '0.3', 'ce-id': 'a', 'ce-type': 't', 'ce-source': 's' }, Buffer.from('')),
      /specversion/,
    );
  });

  it('maps event types to subjects under the prefix, without wildcards', () => {
    assert.equal(subjectFor('kyma', 'order.created.v1'), 'kyma.order.created.v1');
    assert.equal(subjectFor('kyma', 'sap.*.ev>ent'), 'kyma.sap.event');
  });

  it('classifies outcomes: 2xx acked, 4xx failed, timeouts and 5xx unknown', () => {
    assert.equal(classifyStatus(204), 'acked');
    assert.equal(classifyStatus(200), 'acked');
    assert.equal(classifyStatus(400), 'failed');
    assert.equal(classifyStatus(413), 'failed');
    assert.equal(classifyStatus(0), 'unknown');
    assert.equal(classifyStatus(502), 'unknown');
    assert.equal(classifyStatus(504), 'unknown');
  });
});

describe('EventRequestTemplate: the per-VU publish request k6 reuses', () => {
  const sentAt = Date.UTC(2026, 10, 21, 1, 2, 3, 45);
  const time = new Date(sentAt).toISOString();
  for (const mode of ['binary', 'structured', 'legacy'] as const) {
    it(`sends exactly what buildEventRequest builds (${mode})`, () => {
      const template = new EventRequestTemplate(mode, 'order.created.v1', 'k6-ha', 5000);
      for (const seq of [0, 7, 123456]) {
        const body = template.next(`run-${seq}`, seq, 3, sentAt + seq);
        const expected = buildEventRequest(mode, {
          id: `run-${seq}`,
          type: 'order.created.v1',
          source: 'k6-ha',
          time: new Date(sentAt + seq).toISOString(),
          data: { seq, vu: 3, sentAt: sentAt + seq },
        });
        assert.equal(body, expected.body);
        assert.deepEqual(template.params.headers, expected.headers);
      }
      assert.deepEqual(
        { timeout: template.params.timeout, tags: template.params.tags },
        { timeout: 5000, tags: { name: 'publish' } },
      );
    });
  }

  it('reuses one headers object and the publisher accepts what it sends', () => {
    const template = new EventRequestTemplate('binary', 'order.created.v1', 'k6-ha', 5000);
    const headers = template.params.headers;
    const body = template.next('run-9', 9, 1, sentAt);
    assert.equal(template.params.headers, headers);
    const parsed = parseCloudEvent(headers, Buffer.from(body));
    assert.equal(parsed.id, 'run-9');
    assert.equal(parsed.extra['time'], time);
  });

  it('formats ce-time exactly like Date.toISOString, across second and day boundaries', () => {
    const clock = new IsoTimeFormatter();
    const starts = [sentAt, Date.UTC(2026, 11, 31, 23, 59, 59, 990), 0, Date.UTC(1999, 0, 1)];
    for (const start of starts) {
      for (let ms = start; ms < start + 2100; ms += 7) assert.equal(clock.format(ms), new Date(ms).toISOString());
    }
    // Out of order (a VU's clock never goes back, but the formatter must not depend on it).
    for (const ms of [sentAt + 5000, sentAt, sentAt + 999, sentAt + 1000])
      assert.equal(clock.format(ms), new Date(ms).toISOString());
  });
});
