package access

// SharingClass is how a field group may be shared, after the national rules
// for government data sharing.
type SharingClass string

// Sharing classes.
const (
	// ClassPublic groups are for everyone: citizens, the anonymous public
	// and every department.
	ClassPublic SharingClass = "public"
	// ClassUnconditional groups (无条件共享) are for every department.
	ClassUnconditional SharingClass = "unconditional"
	// ClassConditional groups (有条件共享) are for the provider, and for other
	// departments only with an approved grant.
	ClassConditional SharingClass = "conditional"
	// ClassNotShared groups (不予共享) are for the provider only, and for roles
	// the policy names explicitly.
	ClassNotShared SharingClass = "not-shared"
	// ClassPersonal groups hold personal data: the provider sees them; other
	// departments see them masked unless a grant names the group.
	ClassPersonal SharingClass = "personal"
)

// SharingClasses lists the sharing classes, most open first.
func SharingClasses() []SharingClass {
	return []SharingClass{ClassPublic, ClassUnconditional, ClassConditional, ClassNotShared, ClassPersonal}
}

// ProviderDistrict as a provider means no department provides the data: the
// hub keeps it for the district government (audit trail, evaluation). Only
// roles the policy names explicitly read such data.
const ProviderDistrict = "district"

// Department kinds in the catalog.
const (
	DeptBureau = "bureau"
	DeptStreet = "street"
	DeptTown   = "town"
	DeptUnit   = "unit"
)

// Catalog is the government information resource catalog (政务信息资源目录)
// of policies/catalog.yaml: departments, roles and every dataset with its
// field groups. It is read-only once loaded; internal/policy parses and
// validates it (ParseCatalog), so that the packages reading it need no YAML.
type Catalog struct {
	// District is the code of the jurisdiction tree's root, e.g. "hailing".
	District    string        `yaml:"district"`
	Departments []*Department `yaml:"departments"`
	Roles       []*Role       `yaml:"roles"`
	Datasets    []*Dataset    `yaml:"datasets"`
}

// Department is a provider or user of shared data.
type Department struct {
	Code string `yaml:"code"`
	Kind string `yaml:"kind"` // bureau, street, town or unit
	Name string `yaml:"name"`
}

// Role is a role a principal can hold, or (Abstract) one that exists only to
// be inherited in the policy.
type Role struct {
	Name     string `yaml:"name"`
	About    string `yaml:"about"`
	Abstract bool   `yaml:"abstract"`
	// Operations, when set, are the only GraphQL mutations a principal
	// holding the role may call (policy.Engine.CheckOperation).
	Operations []string `yaml:"operations"`
}

// Dataset is one shared dataset.
type Dataset struct {
	Name string `yaml:"name"`
	// Provider is the department code that provides the dataset (its rows),
	// or ProviderDistrict.
	Provider string `yaml:"provider"`
	About    string `yaml:"about"`
	// Actions are the dataset-level actions the policy may allow besides
	// reading (e.g. "report", "command", "handle").
	Actions []string      `yaml:"actions"`
	Groups  []*FieldGroup `yaml:"groups"`
}

// FieldGroup is a set of fields shared under one class.
type FieldGroup struct {
	Name  string       `yaml:"name"`
	Class SharingClass `yaml:"class"`
	// Provider is set when another department than the dataset's provides
	// the group (e.g. planning provides the permit status of a violation).
	// Use ProviderOf for the effective provider.
	Provider string `yaml:"provider"`
	About    string `yaml:"about"`
	// Masks maps each field of a personal group to its masking rule.
	Masks map[string]MaskRule `yaml:"masks"`
	// SuppressBelow, when positive, asks aggregates over the group to
	// suppress cells counting fewer rows than this (small-cell suppression).
	SuppressBelow int `yaml:"suppressBelow"`
}

// Dataset returns the dataset with the given name.
func (c *Catalog) Dataset(name string) (*Dataset, bool) {
	for _, d := range c.Datasets {
		if d.Name == name {
			return d, true
		}
	}
	return nil, false
}

// Department returns the department with the given code.
func (c *Catalog) Department(code string) (*Department, bool) {
	for _, d := range c.Departments {
		if d.Code == code {
			return d, true
		}
	}
	return nil, false
}

// Role returns the role with the given name.
func (c *Catalog) Role(name string) (*Role, bool) {
	for _, r := range c.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// Group returns the field group with the given name.
func (d *Dataset) Group(name string) (*FieldGroup, bool) {
	for _, g := range d.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return nil, false
}

// ProviderOf returns the department that provides group g of d: the group's
// own provider when set, else the dataset's.
func (d *Dataset) ProviderOf(g *FieldGroup) string {
	if g.Provider != "" {
		return g.Provider
	}
	return d.Provider
}

// Mask returns the masking rule of a field of a personal group.
func (g *FieldGroup) Mask(field string) (MaskRule, bool) {
	r, ok := g.Masks[field]
	return r, ok
}
