import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatDuration,
  InvalidSettingError,
  parseChoice,
  parseDurationMs,
  parseEventType,
  parseHttpUrl,
  parsePositiveInt,
} from '../../lib/shared/env-parse.ts';

describe('shared setting parsers', () => {
  it('parses k6 durations, including compound ones', () => {
    assert.equal(parseDurationMs('DURATION', '30s'), 30_000);
    assert.equal(parseDurationMs('DURATION', '5m'), 300_000);
    assert.equal(parseDurationMs('DURATION', '1m30s'), 90_000);
    assert.equal(parseDurationMs('DURATION', '250ms'), 250);
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(300_000), '5m');
  });

  it('names the variable, the value and what is allowed', () => {
    assert.throws(
      () => parseDurationMs('DURATION', 'soon'),
      (err: unknown) =>
        err instanceof InvalidSettingError &&
        err.setting === 'DURATION' &&
        err.value === 'soon' &&
        /duration such as 30s/.test(err.message),
    );
    assert.throws(() => parseDurationMs('DURATION', '0s'), /greater than zero/);
    assert.throws(() => parsePositiveInt('RATE', 'fast'), /invalid RATE="fast": a whole number from 1 to/);
    assert.throws(() => parsePositiveInt('RATE', '0'), /RATE="0"/);
    assert.throws(() => parsePositiveInt('RATE', '1.5'), /RATE="1.5"/);
    assert.throws(
      () => parseChoice('CE_MODE', 'xml', ['binary', 'structured']),
      /invalid CE_MODE="xml": one of binary, structured/,
    );
    assert.throws(() => parseHttpUrl('PUBLISH_URL', 'localhost:8080'), /PUBLISH_URL.*http:\/\//);
    assert.throws(() => parseEventType('EVENT_TYPE', 'order.>'), /EVENT_TYPE/);
  });

  it('accepts good values unchanged', () => {
    assert.equal(parsePositiveInt('RATE', '150'), 150);
    assert.equal(parseChoice('CE_MODE', 'structured', ['binary', 'structured']), 'structured');
    assert.equal(parseHttpUrl('PUBLISH_URL', 'http://127.0.0.1:8080/publish/'), 'http://127.0.0.1:8080/publish');
    assert.equal(parseHttpUrl('ES_URL', 'https://[::1]:2113'), 'https://[::1]:2113');
    assert.equal(
      parseHttpUrl('PUBLISH_URL', 'http://publisher.kyma-system/publish'),
      'http://publisher.kyma-system/publish',
    );
  });

  it('refuses URLs with an impossible port or a broken host, naming an example that fits the setting', () => {
    assert.throws(
      () => parseHttpUrl('PUBLISH_URL', 'http://127.0.0.1:99999/publish'),
      /invalid PUBLISH_URL="http:\/\/127\.0\.0\.1:99999\/publish": an http:\/\/ or https:\/\/ URL \(port 1–65535\) such as http:\/\/127\.0\.0\.1:18080\/publish/,
    );
    assert.throws(() => parseHttpUrl('PUBLISH_URL', 'http://[::1/x'), /invalid PUBLISH_URL/);
    assert.throws(() => parseHttpUrl('PUBLISH_URL', 'http://host:0/x'), /invalid PUBLISH_URL/);
    assert.throws(
      () => parseHttpUrl('ES_URL', 'ftp://x', 'http://127.0.0.1:2113'),
      /such as http:\/\/127\.0\.0\.1:2113$/,
    );
    assert.equal(parseEventType('EVENT_TYPE', 'order.created.v1'), 'order.created.v1');
  });
});
