// A paginated case list, the way a Relay client pages through cases:
// usePaginationFragment over this fragment needs @connection on a
// first/after field and a generated refetch query on Query.
import { graphql } from "react-relay";

export const caseListFragment = graphql`
  fragment CaseList_query on Query
  @refetchable(queryName: "CaseListPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  ) {
    cases(first: $count, after: $cursor) @connection(key: "CaseList_cases") {
      edges {
        node {
          id
          caseNo
          status
          ...CaseDetail_case
        }
      }
    }
  }
`;
