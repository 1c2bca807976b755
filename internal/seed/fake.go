package seed

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
)

// The fake people, phone numbers, ids and plates of every dataset. Each
// dataset draws from its own pools and in its own order: both are part of
// what a seed reproduces, so a pool or a draw order changes only with the
// data it makes.

// namePool is a dataset's surnames and given-name characters.
type namePool struct {
	surnames []string
	given    []rune
}

var (
	// caseNames are the citizens of the cases: common surnames, the most
	// common (in Jiangsu) first and listed twice to weigh them up.
	caseNames = namePool{
		surnames: []string{"王", "张", "陈", "李", "刘", "徐", "朱", "周", "吴", "孙", "王", "张", "陈", "李", "刘", "徐",
			"杨", "黄", "赵", "胡", "马", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
			"邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕",
			"丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "陆", "汪", "范", "金", "石", "夏", "顾", "钱", "严", "戴",
			"缪", "仇", "殷", "封", "季", "储", "翟"},
		given: []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志红玉梅海峰春晓文斌宇浩然欣怡子涵佳琪雨轩梓萱俊凯晨阳鑫婷"),
	}
	// propertyNames are management contacts and housing inspectors.
	propertyNames = namePool{
		surnames: chars("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟万段钱汤"),
		given:    []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志海林燕春晓文斌俊峰宇浩凯鹏辉亮婷雪琳颖慧萍晨阳"),
	}
	// violationNames are the parties of violations.
	violationNames = namePool{
		surnames: []string{"王", "张", "陈", "李", "刘", "徐", "朱", "周", "吴", "孙", "顾", "钱", "丁", "蒋", "沈", "黄", "杨", "赵", "季", "卢"},
		given:    []rune("建国志强秀英玉兰海燕明华红梅文杰春生桂芳俊宏晓东丽娟永刚小平金凤"),
	}
	// parkingSurnames address parking-lot contacts (王经理, 李师傅).
	parkingSurnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "何", "高", "林", "钱"}
)

// chars splits s into its characters.
func chars(s string) []string {
	var out []string
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}

// name draws a surname and one given-name character, and a second one with
// probability 0.7 (drawn with Float64).
func (p namePool) name(r *rand.Rand) string {
	n := p.surnames[r.IntN(len(p.surnames))] + string(p.given[r.IntN(len(p.given))])
	if r.Float64() < 0.7 {
		n += string(p.given[r.IntN(len(p.given))])
	}
	return n
}

// nameTenths is name with the second character's 70 % drawn as IntN(10) < 7
// (the case generator's stream).
func (p namePool) nameTenths(r *rand.Rand) string {
	n := p.surnames[r.IntN(len(p.surnames))] + string(p.given[r.IntN(len(p.given))])
	if r.IntN(10) < 7 {
		n += string(p.given[r.IntN(len(p.given))])
	}
	return n
}

var (
	// caseMobilePrefixes are the first three digits of mainland mobile
	// numbers.
	caseMobilePrefixes = []string{"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
		"150", "151", "152", "153", "155", "156", "157", "158", "159",
		"180", "181", "182", "183", "184", "185", "186", "187", "188", "189"}
	violationMobilePrefixes = []string{"135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "187", "188", "177", "199"}
)

// mobileDigits is an 11-digit mobile number: a prefix, then eight digits
// drawn one by one (the case generator's hot path: no formatting).
func mobileDigits(r *rand.Rand, prefixes []string) string {
	var b [11]byte
	copy(b[:], prefixes[r.IntN(len(prefixes))])
	for i := 3; i < 11; i++ {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b[:])
}

// mobilePrefixed is an 11-digit mobile number: a three-digit prefix and
// eight digits drawn at once.
func mobilePrefixed(r *rand.Rand, prefixes []string) string {
	return fmt.Sprintf("%s%08d", prefixes[r.IntN(len(prefixes))], r.IntN(100_000_000))
}

// mobile is an 11-digit mobile number 1, one of second, then nine digits.
func mobile(r *rand.Rand, second string) string {
	return fmt.Sprintf("1%c%09d", second[r.IntN(len(second))], r.IntN(1_000_000_000))
}

// landline is a Taizhou landline number (0523-8xxxxxxx).
func landline(r *rand.Rand) string { return fmt.Sprintf("0523-8%07d", r.IntN(10_000_000)) }

// residentID is a fake resident ID number of the district (321202), born
// 1950–2002, with a correct check character.
func residentID(r *rand.Rand) string {
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(53*365))
	body := fmt.Sprintf("321202%s%03d", birth.Format("20060102"), r.IntN(1000))
	return body + string(violation.IDCheckChar(body))
}

// plateChars are the letters a plate may carry (no I or O).
const plateChars = "ABCDEFGHJKLMNPQRSTUVWXYZ"

// plate is a Taizhou plate: 苏M and five characters, a fifth of them
// new-energy (苏MD12345).
func plate(r *rand.Rand) string {
	if r.Float64() < 0.2 {
		return fmt.Sprintf("苏M%c%05d", "DF"[r.IntN(2)], r.IntN(100_000))
	}
	b := []byte(fmt.Sprintf("%05d", r.IntN(100_000)))
	for range r.IntN(3) {
		b[r.IntN(5)] = plateChars[r.IntN(len(plateChars))]
	}
	return "苏M" + string(b)
}

// uuidV7 builds a version-7 UUID (RFC 9562) from a Unix time in
// milliseconds, the 12 bits rand_a (the top four of randA are dropped) and
// the 62 bits rand_b (the top two of randB are dropped): generated ids sort
// by their time, as the hub's own do, and repeat with the seed.
func uuidV7(ms uint64, randA uint16, randB uint64) uuid.UUID {
	var u uuid.UUID
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | byte(randA>>8)&0x0f
	u[7] = byte(randA)
	for i := range 8 {
		u[8+i] = byte(randB >> (56 - 8*i))
	}
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// uuidV7Stream is uuidV7 at ms with two draws from r: rand_a takes the
// first draw's low nibble and then its second byte (the order the case and
// violation generators have always used).
func uuidV7Stream(r *rand.Rand, ms uint64) uuid.UUID {
	a, b := r.Uint64(), r.Uint64()
	return uuidV7(ms, uint16(a&0x0f)<<8|uint16(byte(a>>8)), b)
}

// uuidV4 is a random (version-4) UUID from r.
func uuidV4(r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}
