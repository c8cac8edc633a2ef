-- eFaktura B2C: a neutralized copy never reaches a real consumer. Companies in production go to Test
-- mode (the embedded sandbox network and BankID simulator, messages kept in the test phone and inbox),
-- and the production credentials are cleared.
UPDATE res_company
   SET efaktura_mode = 'test',
       efaktura_network_mode = 'sandbox'
 WHERE efaktura_mode = 'enabled';
UPDATE res_company
   SET efaktura_test_send_emails = FALSE,
       efaktura_mps_client_cert = NULL,
       efaktura_mps_client_key = NULL,
       efaktura_uses_vipps_api = FALSE,
       efaktura_vipps_client_id = NULL,
       efaktura_vipps_client_secret = NULL,
       efaktura_vipps_subscription_key = NULL,
       efaktura_bankid_client_secret = NULL;
UPDATE res_company
   SET efaktura_bankid_private_key = NULL;
