import { graphql } from './gql';
export const Probe = graphql(`query Probe { viewer { subject } }`);
