-- t.shape: every path that no longer matches, in one assertion.
local lira = require "lira"
local t = require "lira.testing"

describe("lira.testing shape", function()
  local order = {
    id = "integer", status = "string", total = "number",
    customer = { id = "string", email = t.optional("string") },
    items = { { sku = "string", price = "number", qty = "integer" } },
    meta = { next = t.nullable("string") },
    note = t.optional(t.one_of("string", lira.null)),
  }

  it("accepts a matching document (decoded JSON, arrays and null included)", function()
    local doc = lira.json.decode([[{"id":7,"status":"paid","total":12.5,
      "customer":{"id":"c1"},"items":[{"sku":"a","price":1,"qty":2}],
      "meta":{"next":null},"extra":"ignored"}]])
    assert.are.equal(doc, t.shape(doc, order))
    assert.is_true(t.check_shape(doc, order))
    assert.is_true(t.check_shape(lira.json.decode("[]"), { "string" }))
  end)

  it("reports every mismatching path in one readable error", function()
    local doc = lira.json.decode([[{"id":7.5,"status":"paid","total":"12.5",
      "customer":{"email":3},"items":[{"sku":"a","price":1,"qty":2},{"sku":"b","price":"9","qty":1},
      {"sku":"c","price":2}], "meta":{}, "note":true}]])
    local ok, problems = t.check_shape(doc, order)
    assert.is_false(ok)
    assert.are.same({
      "$.customer.email: expected string, got integer 3",
      "$.customer.id: missing (expected string)",
      "$.id: expected integer, got number 7.5",
      "$.items[2].price: expected number, got string \"9\"",
      "$.items[3].qty: missing (expected integer)",
      "$.meta.next: missing (expected string)",
      "$.note: expected string or null, got boolean true",
      "$.total: expected number, got string \"12.5\"",
    }, problems)
    local ok2, err = pcall(t.shape, doc, order, "GET /orders/7")
    assert.is_false(ok2)
    assert.matches("GET /orders/7 does not match its shape %(8 problems%):\n  %$%.customer%.email", err)
  end)

  it("tells arrays from objects and checks t.array_of, t.equal, functions", function()
    local s = { tags = t.array_of("string"), kind = t.equal("order"),
                n = function(v) return type(v) == "number" and v > 0, "must be positive" end }
    local ok, problems = t.check_shape({ tags = { a = 1 }, kind = "refund", n = -1 }, s)
    assert.is_false(ok)
    assert.are.same({
      "$.kind: expected string \"order\", got string \"refund\"",
      "$.n: must be positive (got integer -1)",
      "$.tags: expected array, got object",
    }, problems)
    assert.is_false((t.check_shape({ 1, 2 }, { x = "any" })))
    assert.has_error(function() t.shape(1, "float") end, "t.shape: unknown type \"float\" at $")
  end)

  it("quotes keys that are not identifiers", function()
    local _, problems = t.check_shape({ ["x-y"] = 1 }, { ["x-y"] = "string" })
    assert.are.same({ "$[\"x-y\"]: expected string, got integer 1" }, problems)
  end)
end)
