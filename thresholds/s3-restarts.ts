// A one-active S3 gateway made to exit again and again under the kubelet's CrashLoopBackOff (seed
// 003's restart timing probe, as a pod): the outages are the back-off itself — 10 s doubling to
// 5 min, the kubelet's and not the gateway's — so they are measured, not gated; what must hold
// through every exit is the data: no acked object lost, none corrupt.
import type { ThresholdProfile } from '../lib/shared/thresholds.ts';
import { s3Ha } from './s3-ha.ts';

const { chaos_unavailable_seconds: _measuredOnly, ...dataGates } = s3Ha.gates;

export const s3Restarts: ThresholdProfile = {
  description:
    "One active gateway restarted under CrashLoopBackOff: zero acked objects lost, zero corrupt; the outages (the kubelet's back-off) measured",
  gates: dataGates,
};
