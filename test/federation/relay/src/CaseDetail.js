// One case, refetchable on its own: @refetchable on a fragment of Case
// makes Relay generate a node(id:) query, which needs Case to implement
// Node and Query.node.
import { graphql } from "react-relay";

export const caseDetailFragment = graphql`
  fragment CaseDetail_case on Case
  @refetchable(queryName: "CaseDetailRefetchQuery") {
    id
    caseNo
    status
    description
    reporter {
      phone
    }
    jurisdiction {
      id
      code
      name
    }
  }
`;
