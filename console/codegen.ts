// graphql-codegen: typed document nodes for every graphql(`…`) document in
// src/, generated from the hub's SDL. DATAHUB_SDL points at another SDL file
// (the Go test type-checks the console against the schema the hub prints).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: process.env.DATAHUB_SDL || 'schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', ID: 'string' },
        strictScalars: true,
      },
    },
  },
};

export default config;
