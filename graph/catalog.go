package graph

import (
	"maps"
	"slices"

	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/policy"
)

// catalogDatasets maps the access catalog's views to the GraphQL model.
func catalogDatasets(views []policy.DatasetView) []*model.CatalogDataset {
	out := make([]*model.CatalogDataset, 0, len(views))
	for _, v := range views {
		ds := v.Dataset
		c := &model.CatalogDataset{Name: ds.Name, About: ds.About, Provider: ds.Provider,
			Actions: nonNil(ds.Actions), NoAccess: nonNil(v.NoAccess), Mine: datasetAccess(ds, v.Mine)}
		for _, g := range ds.Groups {
			fg := &model.CatalogFieldGroup{Name: g.Name, Class: string(g.Class), Provider: ds.ProviderOf(g), About: g.About,
				Masks: []*model.FieldMask{}}
			for _, f := range slices.Sorted(maps.Keys(g.Masks)) {
				rule := g.Masks[f]
				fg.Masks = append(fg.Masks, &model.FieldMask{Field: f, Rule: string(rule), Example: maskExample(rule)})
			}
			c.Groups = append(c.Groups, fg)
		}
		for _, l := range v.Lines {
			c.Baseline = append(c.Baseline, &model.PolicyLine{Role: l.Role, Departments: nonNil(l.Depts),
				DepartmentsLabel: l.DeptLabel, Rows: l.Rows, Groups: nonNil(l.Groups), Actions: nonNil(l.Actions)})
		}
		out = append(out, c)
	}
	return out
}

// maskExample returns a sample value as rule masks it, so a front-end can
// show what each rule keeps without knowing the rule.
func maskExample(rule access.MaskRule) string {
	sample := "0123456789"
	switch rule {
	case access.MaskPhone:
		sample = "13812345678"
	case access.MaskIDNumber:
		sample = "32120019900101123X"
	case access.MaskName:
		sample = "张三"
	case access.MaskPlate:
		sample = "苏M12345"
	}
	return access.Mask(rule, sample)
}

func datasetAccess(ds *access.Dataset, d *access.Decision) *model.DatasetAccess {
	a := &model.DatasetAccess{AllRows: d.Rows.All, Jurisdictions: nonNil(d.Rows.Jurisdictions), Departments: nonNil(d.Rows.Depts),
		OwnReports: d.Rows.CitizenID != "", Actions: nonNil(d.Actions), GrantIds: nonNil(d.GrantIDs)}
	for _, g := range ds.Groups {
		ga := &model.GroupAccess{Group: g.Name, Access: d.Field(g.Name).String(), VisibleIn: []string{}}
		if pa, ok := d.Partial[g.Name]; ok {
			ga.VisibleIn = nonNil(pa.Jurisdictions)
		}
		a.Groups = append(a.Groups, ga)
	}
	return a
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
