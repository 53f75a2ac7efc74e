package table

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// SynthPassengers writes n plausible synthetic Titanic passengers as CSV,
// with the columns of Kaggle's train.csv (TitanicHeader) and CRLF line
// endings, deterministic for a seed. Class, sex, age, family, fare, cabin and
// port follow the real marginals roughly; Survived follows a noisy rule like
// the real one: women, children and first class survive more, large
// families less. About 20% of ages and 77% of cabins are empty, as in the
// real file. The rows are synthetic: mark datasets made from them so.
func SynthPassengers(w io.Writer, n int, seed uint64) error {
	if n < 1 {
		return errs.Invalidf("synthetic passengers: n = %d: expected at least 1", n)
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(TitanicHeader); err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x7177a41c))
	for id := 1; id <= n; id++ {
		p := synthPassenger(rng)
		if err := cw.Write(p.row(id)); err != nil {
			return fmt.Errorf("synthetic passengers: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	return nil
}

type synthRow struct {
	survived, class  int
	name, sex        string
	age              float64 // written only when ageKnown
	sibsp, parch     int
	ticket, cabin    string
	fare             float64
	embarked         string
	ageKnown, female bool
}

func (p synthRow) row(id int) []string {
	age := ""
	if p.ageKnown {
		age = strconv.FormatFloat(p.age, 'f', -1, 64)
	}
	return []string{strconv.Itoa(id), strconv.Itoa(p.survived), strconv.Itoa(p.class), p.name, p.sex, age,
		strconv.Itoa(p.sibsp), strconv.Itoa(p.parch), p.ticket, strconv.FormatFloat(p.fare, 'f', 4, 64), p.cabin, p.embarked}
}

var (
	synthSurnames = []string{"Andersson", "Sage", "Johnson", "Goodwin", "Carter", "Skoog", "Brown", "Panula", "Rice",
		"Asplund", "Fortune", "Harper", "Kelly", "Williams", "Smith", "O'Brien", "Baxter", "Hart", "Lefebre", "Palsson",
		"Becker", "Davies", "Ford", "Hocking", "Moran", "Nasser", "Graham", "Allison", "Laroche", "Thayer", "Dean",
		"Watt", "Collyer", "Hickman", "Navratil", "Sandstrom", "Olsen", "Jussila", "Hansen", "McCoy"}
	synthMaleNames = []string{"John", "William", "Thomas", "Charles", "George", "James", "Edward", "Henry", "Frederick",
		"Arthur", "Joseph", "Karl", "Johan", "Patrick", "Samuel", "Alfred", "Richard", "Ernst", "Walter", "Harry"}
	synthFemaleNames = []string{"Mary", "Anna", "Elizabeth", "Margaret", "Helen", "Ellen", "Alice", "Bertha", "Emily",
		"Kate", "Marion", "Edith", "Agnes", "Elsie", "Hilda", "Maria", "Ida", "Florence", "Annie", "Eleanor"}
	synthRareTitles = []string{"Dr", "Rev", "Col", "Major", "Capt", "Mlle", "Ms", "Mme", "Sir", "Lady", "Countess", "Jonkheer"}
	synthDecks      = [4]string{"", "ABCDE", "DEF", "EFG"}
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func synthPassenger(rng *rand.Rand) synthRow {
	var p synthRow
	// Class: 24% first, 21% second, 55% third.
	switch u := rng.Float64(); {
	case u < 0.24:
		p.class = 1
	case u < 0.45:
		p.class = 2
	default:
		p.class = 3
	}
	p.female = rng.Float64() < 0.35+0.08*float64(3-p.class)/2
	// Age: younger in lower classes; about one in twelve is a child.
	mean := [4]float64{0, 38, 30, 25}[p.class]
	p.age = math.Max(0.42, math.Min(80, mean+rng.NormFloat64()*13.5))
	if rng.Float64() < 0.08 {
		p.age = 0.42 + rng.Float64()*12
	}
	if p.age < 1 {
		p.age = math.Round(p.age*100) / 100
	} else {
		p.age = math.Round(p.age)
	}
	child := p.age < 13
	// Family: children travel with parents; most adults alone.
	p.sibsp = weighted(rng, []float64{0.68, 0.23, 0.04, 0.02, 0.02, 0.01})
	p.parch = weighted(rng, []float64{0.78, 0.13, 0.08, 0.01})
	if child {
		p.parch = 1 + rng.IntN(2)
		p.sibsp = weighted(rng, []float64{0.3, 0.3, 0.15, 0.1, 0.1, 0.05})
	}
	family := p.sibsp + p.parch + 1
	p.name, p.female = synthName(rng, p.female, p.age, p.sibsp > 0 && !child)
	if p.female {
		p.sex = "female"
	} else {
		p.sex = "male"
	}
	p.ageKnown = rng.Float64() >= [4]float64{0, 0.14, 0.06, 0.28}[p.class]
	// Fare: log-normal around the class's typical price, shared per ticket.
	base := [4]float64{0, 45, 13, 7.5}[p.class]
	p.fare = base * math.Exp(rng.NormFloat64()*0.45) * (1 + 0.6*float64(family-1))
	if rng.Float64() < 0.015 {
		p.fare = 0
	}
	p.ticket = synthTicket(rng, p.class)
	if rng.Float64() < [4]float64{0, 0.82, 0.12, 0.03}[p.class] {
		deck := synthDecks[p.class]
		p.cabin = string(deck[rng.IntN(len(deck))]) + strconv.Itoa(1+rng.IntN(130))
	}
	switch u := rng.Float64(); {
	case u < 0.002:
		p.embarked = ""
	case u < 0.19+0.1*float64(3-p.class)/2:
		p.embarked = "C"
	case u < 0.28+0.1*float64(3-p.class)/2:
		p.embarked = "Q"
	default:
		p.embarked = "S"
	}
	// Survival: a logistic rule with noise, fitted by eye to the real rates
	// (women 74%, men 19%; first class 63%, third 24%; boys about 55%).
	logit := -1.9
	if p.female {
		logit += 2.1
		if p.class < 3 {
			logit += 2.3
		}
	} else if child {
		logit += 1.7
	}
	logit += [4]float64{0, 1.1, 0.15, 0}[p.class]
	if family >= 5 {
		logit -= 1.6
	}
	logit -= 0.012 * (p.age - 30)
	logit += rng.NormFloat64() * 0.5
	if rng.Float64() < 1/(1+math.Exp(-logit)) {
		p.survived = 1
	}
	return p
}

// weighted draws index i with probability w[i] (w sums to about 1).
func weighted(rng *rand.Rand, w []float64) int {
	u := rng.Float64()
	for i, p := range w {
		if u < p {
			return i
		}
		u -= p
	}
	return len(w) - 1
}

// synthName returns a "Surname, Title. Given names" name in the Kaggle
// style, and whether the title makes the passenger female (rare titles
// such as Lady or Mme decide the sex).
func synthName(rng *rand.Rand, female bool, age float64, married bool) (string, bool) {
	surname := pick(rng, synthSurnames)
	var title string
	switch {
	case rng.Float64() < 0.025 && age >= 18:
		title = pick(rng, synthRareTitles)
		switch title {
		case "Mlle", "Ms", "Mme", "Lady", "Countess":
			female = true
		default:
			female = false
		}
	case female && (married || age >= 30 && rng.Float64() < 0.6):
		title = "Mrs"
	case female:
		title = "Miss"
	case age < 13:
		title = "Master"
	default:
		title = "Mr"
	}
	first := pick(rng, synthMaleNames)
	if female {
		first = pick(rng, synthFemaleNames)
	}
	if rng.Float64() < 0.5 {
		second := pick(rng, synthMaleNames)
		if female {
			second = pick(rng, synthFemaleNames)
		}
		first += " " + second
	}
	name := surname + ", " + title + ". "
	switch {
	case title == "Mrs" && rng.Float64() < 0.7:
		// Married women appear under the husband's name, maiden name in brackets.
		name += pick(rng, synthMaleNames) + " (" + first + " " + pick(rng, synthSurnames) + ")"
	case rng.Float64() < 0.03:
		name += first + ` "` + pick(rng, synthMaleNames) + `"` // a nickname: quotes inside a quoted field
	default:
		name += first
	}
	return name, female
}

func synthTicket(rng *rand.Rand, class int) string {
	num := strconv.Itoa(10000 + rng.IntN(390000))
	switch u := rng.Float64(); {
	case class == 1 && u < 0.4:
		return "PC " + num
	case u < 0.08:
		return "A/5 " + num
	case u < 0.12:
		return "STON/O2. " + num
	case u < 0.16:
		return "C.A. " + num
	}
	return num
}

// SynthPassengersFile writes SynthPassengers(n, seed) to path, under a
// temporary name renamed into place, and the synthetic marker beside it
// (path + data.SyntheticMarker, e.g. "synth.csv.cairn-synthetic.json"):
// Prepare marks a dataset prepared from a CSV with such a marker Synthetic.
func SynthPassengersFile(path string, n int, seed uint64) error {
	if n < 1 {
		return errs.Invalidf("synthetic passengers: n = %d: expected at least 1", n)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := SynthPassengers(tmp, n, seed); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	marker, _ := json.Marshal(map[string]any{"generator": "cairn data synth titanic", "n": n, "seed": seed})
	if err := os.WriteFile(path+data.SyntheticMarker, append(marker, '\n'), 0o644); err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("synthetic passengers: %w", err)
	}
	return nil
}

// hasSyntheticMarker reports whether the CSV at path has the marker beside it.
func hasSyntheticMarker(path string) bool {
	_, err := os.Stat(path + data.SyntheticMarker)
	return err == nil
}
