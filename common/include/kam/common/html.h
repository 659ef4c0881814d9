// Escaping text for HTML, the one way every HTML the add-in writes does it: the portfolio report
// (kam report --html) and the Salesforce rich-text card (KAM_Explanation__c).
#ifndef KAM_COMMON_HTML_H_
#define KAM_COMMON_HTML_H_

#include <string>
#include <string_view>

namespace kam::common {

// &, <, >, " and ' as character references (&amp; &lt; &gt; &quot; &#39;): safe in element
// content and in quoted attribute values. Other bytes (UTF-8 included) are copied as they are.
std::string HtmlEscape(std::string_view text);

}  // namespace kam::common

#endif  // KAM_COMMON_HTML_H_
