package table

import "github.com/cairn-mlops/cairn/internal/errs"

// PresetTitanic names the Titanic table preset (see TitanicSpec).
const PresetTitanic = "titanic"

// TitanicHeader is the header of Kaggle's Titanic train.csv.
var TitanicHeader = []string{"PassengerId", "Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare", "Cabin", "Embarked"}

// titanicTitles maps the honorific in a passenger's name to one of Mr, Mrs,
// Miss and Master; every other title (Dr, Rev, Col, Countess, ...) is Rare.
var titanicTitles = map[string]string{
	"Mr": "Mr", "Mrs": "Mrs", "Miss": "Miss", "Master": "Master",
	"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs",
}

// noGroup fills an absent ticket or surname: a value no passenger has, so
// its group rate is the overall rate.
const noGroup = "<none>"

// TitanicSpec is the Titanic preset: the label Survived (classes "0" and
// "1"), and as features Pclass, Sex and Embarked (categories), Age (missing
// ages filled with the median age of the passenger's title), SibSp, Parch,
// Fare (missing fares filled with the median of the class), and the
// engineered Title (from Name: Mr, Mrs, Miss, Master or Rare), FamilySize
// (SibSp+Parch+1), IsAlone, FarePerPerson (Fare/FamilySize), CabinKnown,
// and the survival rates of the passenger's ticket and surname groups
// (Ticket~target, Surname~target; see EncodeTarget). A record needs Name,
// Pclass, Sex, Age, SibSp, Parch, Fare and Embarked (null when unknown);
// Cabin and Ticket may be absent; PassengerId is ignored.
func TitanicSpec() Spec {
	return Spec{
		Label:   "Survived",
		Classes: []string{"0", "1"},
		ID:      "PassengerId",
		Columns: []ColumnSpec{
			{Name: "Name", Type: Text},
			{Name: "Title", Type: Category, Derive: &Derive{Op: DeriveExtract, Inputs: []string{"Name"},
				Pattern: `(?:^|,\s*)(?:the\s+)?([A-Za-z]+)\.`, Map: titanicTitles, Default: "Rare"}},
			{Name: "Pclass", Type: Category},
			{Name: "Sex", Type: Category},
			{Name: "Age", Type: Number, Impute: Impute{Strategy: ImputeMedian, By: "Title"}},
			{Name: "SibSp", Type: Number},
			{Name: "Parch", Type: Number},
			{Name: "Fare", Type: Number, Impute: Impute{Strategy: ImputeMedian, By: "Pclass"}},
			{Name: "Cabin", Type: Text, Optional: true},
			{Name: "Embarked", Type: Category},
			{Name: "FamilySize", Type: Number, Derive: &Derive{Op: DeriveSum, Inputs: []string{"SibSp", "Parch"}, Add: 1}},
			{Name: "IsAlone", Type: Number, Scale: ScaleNone, Derive: &Derive{Op: DeriveEquals, Inputs: []string{"FamilySize"}, Value: 1}},
			{Name: "FarePerPerson", Type: Number, Impute: Impute{Strategy: ImputeMedian, By: "Pclass"},
				Derive: &Derive{Op: DeriveRatio, Inputs: []string{"Fare", "FamilySize"}}},
			{Name: "CabinKnown", Type: Number, Scale: ScaleNone, Derive: &Derive{Op: DerivePresent, Inputs: []string{"Cabin"}}},
			// Travelling groups: passengers sharing a ticket or a surname
			// lived or died together more often than not. Each is the
			// group's smoothed survival rate among the train passengers
			// (out of fold for the train rows themselves: see
			// EncodeTarget); an absent ticket or an unseen group is the
			// overall rate.
			{Name: "Ticket", Type: Category, Optional: true, Impute: Impute{Strategy: ImputeConstant, Value: noGroup},
				Encode: EncodeTarget},
			{Name: "Surname", Type: Category, Impute: Impute{Strategy: ImputeConstant, Value: noGroup},
				Derive: &Derive{Op: DeriveExtract, Inputs: []string{"Name"}, Pattern: `^\s*([^,]+),`},
				Encode: EncodeTarget},
		},
		Features: []string{"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked",
			"Title", "FamilySize", "IsAlone", "FarePerPerson", "CabinKnown", "Ticket", "Surname"},
	}
}

// Preset returns the table spec of a named preset.
func Preset(name string) (Spec, error) {
	switch name {
	case PresetTitanic:
		return TitanicSpec(), nil
	}
	return Spec{}, errs.Invalidf("table preset %q: expected one of %s", name, quoteList(Presets()))
}

// Presets lists the table presets.
func Presets() []string { return []string{PresetTitanic} }
