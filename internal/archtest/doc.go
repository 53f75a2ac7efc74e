// Package archtest holds no code: its test checks that imports point the way
// the layout says (domain packages below adapters, each heavy dependency in
// one home).
package archtest
