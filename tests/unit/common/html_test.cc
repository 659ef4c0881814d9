// kam::common::HtmlEscape: the one escaper of the report page and the Salesforce card.
#include "kam/common/html.h"

#include <gtest/gtest.h>

namespace kam::common {
namespace {

TEST(HtmlEscape, ReplacesTheFiveCharactersThatCanEndTextOrAnAttribute) {
  EXPECT_EQ(HtmlEscape(R"(<a href="x" title='y'>Tom & Jerry</a>)"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;");
}

TEST(HtmlEscape, LeavesOtherTextAndUtf8AsItIs) {
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("Müller GmbH · 5 → 7"), "Müller GmbH · 5 → 7");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");  // escaped again: the input is text, not HTML
  EXPECT_EQ(HtmlEscape(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace kam::common
