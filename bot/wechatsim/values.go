package wechatsim

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validValue applies WeChat's rules for a category template's keys, by the
// key's type prefix (thing2, character_string1, time3…): a value that breaks
// them gets 47003. Keys of the old keyword templates are only held to the
// 2023 rule (no line breaks).
func validValue(key, v string) bool {
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return false
	}
	n := utf8.RuneCountInString(v)
	switch keyType(key) {
	case "thing":
		return n <= 20
	case "character_string":
		return n <= 32 && isASCII(v)
	case "phrase":
		return n <= 5 && all(v, func(r rune) bool { return unicode.Is(unicode.Han, r) })
	case "time":
		return timeRe.MatchString(v)
	case "date":
		return dateRe.MatchString(v)
	case "number":
		return n <= 32 && numberRe.MatchString(v)
	case "amount":
		return amountRe.MatchString(v)
	case "letter":
		return n <= 32 && all(v, func(r rune) bool { return r < 128 && unicode.IsLetter(r) })
	case "symbol":
		return n <= 5 && all(v, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
	case "phone_number":
		return n <= 17 && all(v, func(r rune) bool { return r >= '0' && r <= '9' || r == '+' || r == '-' || r == ' ' })
	case "car_number":
		return n <= 8
	case "name":
		if isASCII(v) {
			return n <= 20
		}
		return n <= 10
	case "const", "enum":
		return false // fixed by the template: never sent
	}
	return true
}

// keyType is a key without its number suffix.
func keyType(key string) string {
	return strings.TrimRight(key, "0123456789")
}

var (
	clock    = `\d{1,2}:\d{2}`
	day      = `\d{4}年\d{1,2}月\d{1,2}日`
	timeRe   = regexp.MustCompile(`^(` + day + ` ` + clock + `|` + clock + `|` + day + `)( ?~ ?(` + day + ` ` + clock + `|` + clock + `|` + day + `))?$`)
	dateRe   = regexp.MustCompile(`^` + day + `( ` + clock + `)?( ?~ ?` + day + `( ` + clock + `)?)?$`)
	numberRe = regexp.MustCompile(`^-?\d+(\.\d+)?$`)
	amountRe = regexp.MustCompile(`^[¥$€£]?\d{1,12}(\.\d{1,2})?元?$`)
)

func isASCII(s string) bool {
	return all(s, func(r rune) bool { return r < 128 && unicode.IsPrint(r) })
}

func all(s string, f func(rune) bool) bool {
	for _, r := range s {
		if !f(r) {
			return false
		}
	}
	return true
}
