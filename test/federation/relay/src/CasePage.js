// The page that spreads both fragments: a root query Relay compiles
// against the hub's schema as it is served.
import { graphql } from "react-relay";

export const casePageQuery = graphql`
  query CasePageQuery {
    ...CaseList_query
    viewer {
      subject
    }
  }
`;
