// The SigV4 signer (lib/shared/sigv4.ts, the code k6 signs S3 requests with) against AWS's
// published vectors: three cases of the aws-sig-v4-test-suite (credentials AKIDEXAMPLE, region
// us-east-1, service "service", 20150830T123600Z) and the "GET Object" example of the S3 docs
// ("Signature Calculations for the Authorization Header", AKIAIOSFODNN7EXAMPLE). Each is checked
// step by step — canonical request, string to sign, signature — so a mismatch says which step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalPath,
  canonicalQuery,
  EMPTY_SHA256,
  SigV4Signer,
  signRequest,
  uriEncode,
} from '../../lib/shared/sigv4.ts';
import { nodeSigV4Crypto as crypto } from '../../lib/stack/s3-gateway/node-sigv4.ts';

const SUITE = {
  accessKey: 'AKIDEXAMPLE',
  secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
};
const SUITE_DATE = '20150830T123600Z';
const SUITE_HOST = 'example.amazonaws.com';

describe('SigV4 against the aws-sig-v4-test-suite', () => {
  it('get-vanilla', () => {
    const s = signRequest(
      crypto,
      SUITE,
      SUITE_HOST,
      { method: 'GET', path: '/', payloadHash: EMPTY_SHA256 },
      SUITE_DATE,
    );
    assert.equal(
      s.canonicalRequest,
      [
        'GET',
        '/',
        '',
        'host:example.amazonaws.com',
        'x-amz-date:20150830T123600Z',
        '',
        'host;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(
      s.stringToSign,
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    );
    assert.equal(s.signature, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    assert.equal(
      s.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it('post-vanilla', () => {
    const s = signRequest(
      crypto,
      SUITE,
      SUITE_HOST,
      { method: 'POST', path: '/', payloadHash: EMPTY_SHA256 },
      SUITE_DATE,
    );
    assert.equal(
      s.canonicalRequest,
      [
        'POST',
        '/',
        '',
        'host:example.amazonaws.com',
        'x-amz-date:20150830T123600Z',
        '',
        'host;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(
      s.stringToSign,
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87',
    );
    assert.equal(s.signature, '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b');
  });

  it('get-vanilla-query-order-key-case: parameters sorted by name, byte order', () => {
    const s = signRequest(
      crypto,
      SUITE,
      SUITE_HOST,
      {
        method: 'GET',
        path: '/',
        query: [
          ['Param2', 'value2'],
          ['Param1', 'value1'],
        ],
        payloadHash: EMPTY_SHA256,
      },
      SUITE_DATE,
    );
    assert.equal(s.canonicalRequest.split('\n')[2], 'Param1=value1&Param2=value2');
    assert.equal(s.stringToSign.split('\n')[3], '816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0');
    assert.equal(s.signature, 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  });
});

describe('SigV4 against the S3 documentation', () => {
  it('the "GET Object" example (examplebucket, test.txt, Range bytes=0-9)', () => {
    const creds = {
      accessKey: 'AKIAIOSFODNN7EXAMPLE',
      secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 's3',
    };
    const s = signRequest(
      crypto,
      creds,
      'examplebucket.s3.amazonaws.com',
      {
        method: 'GET',
        path: '/test.txt',
        headers: { Range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256 },
        payloadHash: EMPTY_SHA256,
      },
      '20130524T000000Z',
    );
    assert.equal(
      s.canonicalRequest,
      [
        'GET',
        '/test.txt',
        '',
        'host:examplebucket.s3.amazonaws.com',
        'range:bytes=0-9',
        `x-amz-content-sha256:${EMPTY_SHA256}`,
        'x-amz-date:20130524T000000Z',
        '',
        'host;range;x-amz-content-sha256;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    );
    assert.equal(
      s.stringToSign,
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    );
    assert.equal(s.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('the cached signer gives the same signature as the one-off', () => {
    const signer = new SigV4Signer(crypto, SUITE);
    const at = Date.UTC(2015, 7, 30, 12, 36, 0);
    const a = signer.sign(SUITE_HOST, { method: 'GET', path: '/', payloadHash: EMPTY_SHA256 }, at);
    const b = signer.sign(SUITE_HOST, { method: 'GET', path: '/', payloadHash: EMPTY_SHA256 }, at);
    assert.equal(a.signature, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    assert.equal(b.signature, a.signature);
    assert.equal(a.headers['x-amz-date'], SUITE_DATE);
  });

  it("encodes S3 keys once, segment by segment, with RFC 3986's unreserved set", () => {
    assert.equal(canonicalPath('/bucket/a b/c+d*'), '/bucket/a%20b/c%2Bd%2A');
    assert.equal(uriEncode("-._~!'()"), '-._~%21%27%28%29');
    assert.equal(
      canonicalQuery([
        ['prefix', 'k6ha/r1/'],
        ['list-type', '2'],
      ]),
      'list-type=2&prefix=k6ha%2Fr1%2F',
    );
  });
});
