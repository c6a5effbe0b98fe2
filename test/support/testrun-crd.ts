// k6-operator's TestRun CRD (k6.io/v1alpha1), trimmed for the tests: k6-operator ships its CRD
// only in its repository and helm chart (config/crd/bases/k6.io_testruns.yaml, ~280 KB), not on
// npm, and the machine reaches no chart repository. Written by hand from that published schema:
// the fields `k6-ha operator` writes with the types the schema gives them (parallelism int32,
// arguments/paused/quiet strings, script.configMap.{name,file}, runner.image string, runner.env
// a list of EnvVar objects), everything else of spec kept unvalidated. It checks that the
// apiserver accepts our TestRun against those types; it is not the operator's full validation.
export const TESTRUN_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'testruns.k6.io' },
  spec: {
    group: 'k6.io',
    names: { kind: 'TestRun', listKind: 'TestRunList', plural: 'testruns', singular: 'testrun' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1alpha1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                'x-kubernetes-preserve-unknown-fields': true,
                required: ['parallelism', 'script'],
                properties: {
                  arguments: { type: 'string' },
                  parallelism: { type: 'integer', format: 'int32' },
                  paused: { type: 'string' },
                  quiet: { type: 'string' },
                  separate: { type: 'boolean' },
                  script: {
                    type: 'object',
                    properties: {
                      configMap: {
                        type: 'object',
                        required: ['name'],
                        properties: { name: { type: 'string' }, file: { type: 'string' } },
                      },
                      localFile: { type: 'string' },
                      volumeClaim: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    },
                  },
                  runner: {
                    type: 'object',
                    'x-kubernetes-preserve-unknown-fields': true,
                    properties: {
                      image: { type: 'string' },
                      env: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['name'],
                          'x-kubernetes-preserve-unknown-fields': true,
                          properties: { name: { type: 'string' }, value: { type: 'string' } },
                        },
                      },
                    },
                  },
                },
              },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
} as const;
